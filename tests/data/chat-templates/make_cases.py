#!/usr/bin/env python3
"""Regenerates the chat-template test data from Python's Jinja2 (the oracle;
Debian's python3-jinja2), rendering the way Hugging Face's
apply_chat_template does (render_expected.py in the shared reference folder).

    tests/data/chat-templates/make_cases.py ../shared/reference/chat-templates

jinja_cases.json: small templates over two contexts with Jinja2's output
(or the raise_exception message, or the Python error for templates that
fail); tool_cases.json: seven conversations with tools, tool calls,
multimodal content and documents, rendered by each reference template,
stored as SHA-256 and length of Jinja2's output. Cases where this engine
deliberately differs from Hugging Face's sandbox are marked
known_difference (see docs/chat-templates.md)."""
import hashlib, json, os, sys

REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '../../../../shared/reference/chat-templates')
sys.path.insert(0, REF)
from render_expected import env, TemplateError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Differences by design: list/dict methods that mutate (the sandbox refuses
# them), from_json (not a Jinja2 filter), generators serialised by tojson,
# Python's big integers and object reprs with addresses.
KNOWN = {
    "{{ xs.append(4) }}": "list.append is allowed (Hugging Face's immutable sandbox refuses it)",
}

CTX1 = {"xs": [3, 1, 2], "d": {"b": 1, "a": [1, 2], "C": None}, "s": "Hello, World", "u": "héllo wörld ß",
       "m": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "x": 1}, {"role": "user", "content": "Bye"}],
       "n": None, "t": True, "f": 1.5, "i": 7, "neg": -7, "big": 12345678901234, "e": "", "words": ["b", "A", "c", "a"],
       "nested": {"k": {"j": [10, 20, {"z": "deep"}]}}, "fl": [0.1, 2.5, 1e20, 1e-7, 3.0, -0.0, 100.0, 1e16, 123456789.125]}
T1 = r'''
{{ xs }}|{{ d }}|{{ s }}|{{ n }}|{{ t }}|{{ f }}|{{ big }}|{{ fl }}
{{ 1/2 }}|{{ 4/2 }}|{{ 7//2 }}|{{ -7//2 }}|{{ 7%3 }}|{{ -7%3 }}|{{ 7%-3 }}|{{ 2**10 }}|{{ 2**-1 }}|{{ 7.5//2 }}|{{ -7.5%2 }}|{{ 1e300*1e10 }}
{{ 'a' ~ 1 ~ none ~ true ~ 1.0 }}|{{ 'ab' * 3 }}|{{ [1] * 3 }}|{{ [1,2] + [3] }}|{{ (1,2) }}|{{ (1,) }}|{{ () }}
{{ s[0] }}{{ s[-1] }}{{ s[1:4] }}{{ s[::-1] }}{{ s[::2] }}{{ s[-3:] }}{{ s[:-3] }}{{ u[1] }}{{ u[-2:] }}{{ u|length }}
{{ xs[0] }}{{ xs[-1] }}{{ xs[1:] }}{{ xs[::-1] }}{{ xs[5] }}|{{ xs[10:20] }}
{{ s.upper() }}|{{ s.lower() }}|{{ u.upper() }}|{{ u.title() }}|{{ s.split(', ') }}|{{ ' a  b c '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}
{{ '  x  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  x  '.lstrip() }}.|{{ '  x  '.rstrip() }}|{{ s.startswith('He') }}{{ s.endswith('ld') }}{{ s.startswith(('x','H')) }}
{{ s.replace('l', 'L') }}|{{ s.replace('l', 'L', 2) }}|{{ 'abc'.replace('', '-') }}|{{ s.find('World') }}|{{ u.find('w') }}|{{ s.count('l') }}|{{ s.rfind('l') }}
{{ '{} and {}'.format(1, 'b') }}|{{ '{0}-{1}-{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='N') }}|{{ '{:>5}|{:<5}|{:^5}'.format('a','b','c') }}|{{ '{:.2f}'.format(3.14159) }}|{{ '{:05d}'.format(42) }}
{{ '%s=%d' % ('a', 3) }}|{{ '%05.1f' % 3.14159 }}|{{ '%-5s|' % 'ab' }}|{{ '%(x)s' % {'x': 1} }}|{{ '%r' % 'q' }}
{{ xs|length }}{{ xs|count }}{{ s|length }}{{ d|length }}{{ undefinedvar|length }}
{{ xs|sort }}|{{ xs|sort(reverse=true) }}|{{ words|sort }}|{{ words|sort(case_sensitive=true) }}|{{ m|sort(attribute='role')|map(attribute='content')|list }}
{{ words|unique|list }}|{{ words|unique(case_sensitive=true)|list }}|{{ xs|min }}|{{ xs|max }}|{{ words|max }}|{{ xs|sum }}|{{ m|sum(attribute='x', start=0) if false else '' }}
{{ d|dictsort }}|{{ d|dictsort(reverse=true) }}|{{ d|dictsort(case_sensitive=true) }}|{{ d|items|list }}|{{ d.items() }}|{{ d.keys() }}|{{ d.values() }}
{{ xs|join(',') }}|{{ m|join('/', attribute='role') }}|{{ s|list|join('.') }}|{{ xs|first }}|{{ xs|last }}|{{ s|first }}|{{ []|first }}|
{{ xs|reverse|list }}|{{ s|reverse }}|{{ m|map(attribute='role')|list }}|{{ m|map(attribute='x', default='dflt')|list }}|{{ words|map('upper')|list }}|{{ xs|map('string')|join }}
{{ m|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}|{{ m|rejectattr('role', 'eq', 'user')|list|length }}|{{ m|selectattr('x')|list|length }}|{{ m|selectattr('x', 'defined')|list|length }}|{{ xs|select('odd')|list }}|{{ xs|reject('odd')|list }}|{{ xs|select('gt', 1)|list }}|{{ xs|select('in', [1,3])|list }}
{{ s|upper }}|{{ s|lower }}|{{ 'hello world-foo(bar'|title }}|{{ 'hELLO wORLD'|capitalize }}|{{ '  pad  '|trim }}|{{ 'xxyxx'|trim('x') }}|{{ s|replace('o', '0') }}|{{ s|wordcount }}|{{ 'ab'|center(8) }}|
{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb\n\nc'|indent(2, true) }}|{{ 'a\nb\n\nc'|indent(2, blank=true) }}|{{ 'a\nb'|indent('> ') }}|{{ ''|indent(first=true) }}
{{ '42'|int }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(5) }}|{{ 3.9|int }}|{{ '0x1A'|int(base=16) }}|{{ '3.5'|float }}|{{ 'x'|float }}|{{ 2|float }}|{{ -3|abs }}|{{ -2.5|abs }}
{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(method='ceil') }}|{{ 2.9|round(method='floor') }}|{{ 7|round }}|{{ 1234.5678|round(-2) }}
{{ n|default('D') }}|{{ undefinedvar|default('D') }}|{{ e|default('D') }}|{{ e|default('D', true) }}|{{ undefinedvar|d('x') }}
{{ xs|tojson }}|{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ m|tojson(separators=(',', ':')) }}|{{ u|tojson }}|{{ u|tojson(ensure_ascii=true) }}|{{ fl|tojson }}|{{ "a\"b\\c\n\t\u0001\u007f"|tojson }}|{{ {1: 2, none: 3, true: 4, 1.5: 5}|tojson }}|{{ [[], {}]|tojson(indent=2) }}|{{ d|tojson(indent='\t') }}|{{ '😀'|tojson(ensure_ascii=true) }}
{{ xs is iterable }}{{ s is iterable }}{{ d is mapping }}{{ xs is sequence }}{{ s is sequence }}{{ i is number }}{{ t is number }}{{ f is integer }}{{ i is integer }}{{ t is integer }}{{ t is boolean }}{{ f is float }}{{ n is none }}{{ undefinedvar is defined }}{{ undefinedvar is undefined }}{{ i is odd }}{{ i is even }}{{ 9 is divisibleby 3 }}{{ 'a' is in 'cat' }}{{ t is true }}{{ n is false }}{{ s is string }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ i is eq 7 }}{{ i is equalto(7) }}{{ i is ne 3 }}{{ xs is sameas xs }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ range is callable }}
{{ 1 in xs }}{{ 5 not in xs }}{{ 'a' in d }}{{ 'ell' in s }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 5 }}{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' < 'b' }}{{ [1,2] < [1,3] }}{{ none == none }}{{ undefinedvar == undefinedvar }}
{{ 1 if t else 2 }}|{{ 1 if n else 2 }}|{{ 1 if n }}|{{ n or 'x' }}|{{ 0 and 'y' }}|{{ 'a' and 'b' }}|{{ not n }}|{{ -i }}|{{ +i }}|{{ -2**2 }}|{{ 2**3**2 }}
{{ d.a }}{{ d['a'] }}{{ d.get('a') }}{{ d.get('zz', 'dflt') }}{{ d.get('zz') }}|{{ d.zz }}|{{ nested.k.j[2].z }}{{ nested['k']['j'][0] }}{{ m.0.role }}
{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a','b') }}{{ loop.depth }},{% endfor %}
{% for x in xs if x > 1 %}{{ x }}{{ loop.index }}{{ loop.length }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}{% endfor %}
{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for a in xs %}{% for b in xs %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}
{% for x in xs %}{{ loop.changed(x > 1) }}{% endfor %}|{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}
{% set a = 1 %}{% set b, c = 2, 3 %}{{ a }}{{ b }}{{ c }}{% set ns = namespace(v=0, l=[]) %}{% for x in xs %}{% set ns.v = ns.v + x %}{% set a = 99 %}{% endfor %}{{ ns.v }}{{ a }}
{% set blk %}inner {{ s }}{% endset %}[{{ blk }}]{% set up | upper %}shout{% endset %}{{ up }}
{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }}|{{ greet('B', 'Hi') }}|{{ greet('C', punct='?') }}|{{ greet(name='D') }}
{% macro va() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ va(1, 2, x=3) }}|{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}body{{ s }}{% endcall %}|{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(4) }}
{% macro cl(x) %}{{ caller(x * 2) }}{% endmacro %}{% call(v) cl(21) %}got {{ v }}{% endcall %}|{% filter upper %}filtered {{ s }}{% endfilter %}|{% with q = 5 %}{{ q }}{% endwith %}{{ q }}
{{ dict(a=1, b=2) }}|{{ dict(d) }}|{{ namespace(x=1).x }}|{{ {'k': 'v'}.k }}|{{ [1, 2, 3][1:] }}|{{ 'x' ~ [1] }}
{{ '<a & "b">'|e }}|{{ '<a>'|escape|escape }}|{{ ('<b>'|safe) + '<i>' }}|{{ '<i>' + ('<b>'|safe) }}|{{ ('x'|safe) ~ '<y>' }}|{{ '<p>hi  <b>there</b></p>'|striptags }}
{{ 'abc'|batch(2)|list }}|{{ xs|batch(2, 0)|list }}|{{ 'hello world foo'|truncate(9) }}|{{ 'hello world foo bar baz qux'|truncate(9, true) }}|{{ '%s-%s'|format(1, 2) }}|{{ d|pprint }}
{{ "Hello {}".format(s) }}|{{ 'x'.join(['a', 'b']) }}|{{ 'a\nb\r\nc'.splitlines() }}|{{ '42'.isdigit() }}{{ 'ab'.isalpha() }}{{ '  '.isspace() }}|{{ '5'.zfill(3) }}|{{ 'ab'.ljust(4) }}.|{{ 'ab'.rjust(4, '*') }}|{{ 'a=b=c'.partition('=') }}|{{ 'pre_x'.removeprefix('pre_') }}
{{ "it's" }}|{{ ["it's", 'say "hi"', 'both \' "'] }}|{{ 'tab\there' }}|{{ ['\n', '\x01', 'é', '\u00a0'] }}|{{ {'a': [1, (2, 3)], 'b': none, 'c': true, 'd': 1.0} }}|{{ 'a' 'b' }}
{{ 1_000 }}|{{ 0x10 }}|{{ 1.5e3 }}|{{ 1e-3 }}|{{ 10000000000000000.0 }}|{{ 0.1 + 0.2 }}|{{ 1/3 }}|{{ 2.0 * 3 }}|{{ 9007199254740993 }}|{{ 3 * 1.1 }}|{{ 100 / 7 }}
{{ strftime_now('%Y-%m-%d %H:%M:%S %A %a %B %b %j %d') }}
'''
WS = [
        "a\n{% if true %}\nb\n{% endif %}\nc",
        "a\n  {% if true %}\n  b\n  {% endif %}\nc\n",
        "a  {%- if true -%}  b  {%- endif -%}  c",
        "x\n    {{- 'y' -}}\n    z",
        "  {# comment #}\nx",
        "a {#- c -#} b",
        "a\n  {#- c #}\nb",
        "{% raw %}{{ not parsed }}{% endraw %}",
        "a\n  {% raw %}\n  {{ x }}\n  {% endraw %}\nb",
        "  {%+ if true %}x{% endif %}",
        "{% if true +%}\nx{% endif %}",
        "line1\r\nline2\r\n{% if true %}\r\nz\r\n{% endif %}\r\n",
        "a\n\n",
        "{%- for x in [1,2] %}\n  {{ x }}\n{%- endfor %}\n",
        "{% for x in [1,2] -%}\n  {{ x }}\n{% endfor -%}\nend",
        "   {{ 'v' }}   \n   {% set q = 1 %}   \nafter",
        "{% if true %}    {% endif %}|",
        "\t{% if true %}\t\n\tx{% endif %}",
        "{{ '{{' }}{{ '}}' }}{{ {'a': {'b': 1}} }}",
        "{% set x = {'a': 1} %}{{ x }}",
        "{% generation %}gen {{ 1 }}{% endgeneration %}",
        "{{ raise_exception('boom: ' ~ 42) }}",
        "{% if 1 %}{{ raise_exception('nested raise') }}{% endif %}",
        "{% macro m() %}{{ raise_exception('from macro') }}{% endmacro %}{{ m() }}",
        "{{ undefinedvar.attr }}",
        "{{ 1 + 'a' }}",
        "{{ 'a' + 1 }}",
        "{{ n.x }}",
        "{{ xs.append(4) }}",
        "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
        "{% set l = [1, 2] %}{{ l[0:1] }}{{ l.0 }}",
        "{{ 'abc' is string and 'x' or 'y' }}",
        "{% if not undefinedvar is defined %}nd{% endif %}",
        "{% for m in m %}{{ m.role }}{% endfor %}",
        "{% set g = xs|map('string') %}{% for a in g %}{{ a }}{% endfor %}|{% for a in g %}{{ a }}{% endfor %}|{{ g|list }}",
        "{% set g = xs|select('odd') %}{{ 1 in g }}{{ 3 in g }}{{ g|list }}",
        "{% if []|select('odd') %}truthy{% endif %}{% if []|map('upper') %}truthy2{% endif %}",
        "{{ m|groupby('role') }}" ,
        "{% set x = 1 %}{% macro f() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ f() }}",
        "{% for i in range(2) %}{% set y = i %}{% endfor %}{{ y }}",
        "{{ loop }}",
        "{% for a in [1] %}{% for b in [2] %}{{ loop.index }}{% endfor %}{% endfor %}",
        "{{ xs|batch(2)|map('join', '-')|list }}",
        "{{ [3,1,2]|sort|first }}",
        "{{ '%.3e'|format(12345.678) }}|{{ '%g'|format(0.0001) }}|{{ '%x'|format(255) }}",
        "{{ ''.join(['a', 'b']) }}",
        "{{ (xs|list).__class__ }}",
        "{{ 5|string ~ 5.0|string }}",
        "{{ '%d%%' % 50 }}",
        "{{ range(3)|list }}{{ range(0)|list }}",
        "{{ 'abc'[5:1:-1] }}{{ [1,2,3,4,5][::-2] }}{{ [1,2,3,4,5][-2::-2] }}",
        "{{ 3|float|string }}|{{ (0.1*3)|string }}",
        "{% set t = (1, 2) %}{{ t[0] }}{{ t|length }}{{ t|list }}",
        "{{ {'a': 1}|items|list }}",
        "{{ [1, 2] == [1, 2] }}{{ (1, 2) == [1, 2] }}{{ {'a': 1} == {'a': 1} }}",
        "{{ 10 // 3 * 3 + 10 % 3 }}",
        "{{ 'a' ~ 'b' | upper }}",
        "{{ -3|abs }}",
        "{{ not 1 == 2 }}",
        "{{ 1 + 2 * 3 - 4 / 2 }}",
        "{{ [1,2,3]|map('string')|join(', ') }}",
        "{{ 'x'|safe|length }}",
        "{{ {'b': 1, 'a': 2}|dictsort(by='value') }}",
        "{{ m[0].get('content') ~ m[-1]['role'] }}",
        "{% for x in xs recursive %}{% endfor %}",
        "a\u00a0{%- if true %}b{% endif %}",
        "{{\u00a0'x'\u3000}}|{%\u2003if true\u00a0%}y{% endif %}",
        "x {%- if true -%}\u3000\u00a0 y{% endif %}",
        "a\n\u00a0 {% if true %}b{% endif %}",
        "a\n\u00a0 {{ 'v' }}\u00a0\n",
]
CTX2 = {"tree": [{"n": "a", "c": [{"n": "a1", "c": []}, {"n": "a2", "c": [{"n": "a2x", "c": []}]}]}, {"n": "b", "c": []}],
       "m": [{"role": "user", "content": "hi"}, {"role": "Assistant", "content": "yo"}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "k"}],
       "xs": [1, 2, 3], "s": "abc", "d": {"a": 1}}
L2 = [
 "{% for x in tree recursive %}[{{ x.n }}{{ loop.depth }}{% if x.c %}({{ loop(x.c) }}){% endif %}]{% endfor %}",
 "{% for g in m|groupby('role') %}{{ g.grouper }}:{{ g.list|length }};{% endfor %}",
 "{% for role, items in m|groupby('role', case_sensitive=true) %}{{ role }}={{ items|map(attribute='content')|join(',') }};{% endfor %}",
 "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}",
 "{% set x = 1 %}{% for i in xs %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}",
 "{% macro f(a, b) %}{{ a }}-{{ b }}{% endmacro %}{{ f(1) }}|{{ f(b=2) }}",
 "{% macro f(a) %}{{ a }}{% endmacro %}{{ f(1, 2) }}",
 "{% macro f(a) %}{{ a }}{% endmacro %}{{ f(a=1, z=2) }}",
 "{% macro f(a, b=a ~ '!') %}{{ b }}{% endmacro %}{{ f('x') }}",
 "{% macro outer() %}{% macro inner() %}in{% endmacro %}{{ inner() }}{% endmacro %}{{ outer() }}",
 "{% for x in xs %}{% macro show() %}{{ x }}{% endmacro %}{{ show() }}{% endfor %}",
 "{{ xs|map('add', 1) if false else 'skip' }}",
 "{% if xs|length > 2 and s == 'abc' %}ok{% elif false %}no{% else %}else{% endif %}",
 "{% if false %}a{% elif false %}b{% elif true %}c{% else %}d{% endif %}",
 "{%- if true -%}\n  x\n{%- endif -%}\n",
 "{% for x in xs -%}\n{{ x }}\n{%- endfor %}",
 "  {%- for x in xs %}\n    <{{ x }}>\n  {%- endfor %}\n",
 "{{- 'a' }}  \n  {{- 'b' -}}  \n  c",
 "{% set x %}\n  block\n{% endset %}[{{ x }}]",
 "{%- set x -%}\n  block\n{%- endset -%}[{{ x }}]",
 "{# multi\nline\ncomment #}\nafter",
 "text {#- strip -#}\n\n more",
 "{{ 'a' if true }}{{ 'b' if false }}|",
 "{{ d['a'] if d is mapping else 0 }}",
 "{{ [1, 2, 3,] }}{{ {'a': 1,} }}{{ (1, 2,) }}",
 "{{ d | tojson }}{{ d|tojson(indent=none) }}",
 "{{ \"line\\nbreak\" }}|{{ 'uni\\u00e9' }}|{{ 'oct\\101' }}|{{ 'unk\\d' }}|{{ 'x\\\ny' }}",
 "{{ 1 == 1 == 1 }}{{ 1 < 2 > 1 }}{{ 'a' in 'abc' in 'xabcx' }}",
 "{{ not true and false }}{{ not (true and false) }}{{ false or not false }}",
 "{{ 2 * 3 ~ 4 }}{{ 2 + 3 ~ 4 }}{{ 'x' ~ 2 ** 3 }}",
 "{{ -xs|length }}",
 "{{ xs[0] + xs[-1] * 2 }}",
 "{{ s|upper|lower|title }}",
 "{{ (s ~ 'def')[2:5] }}",
 "{{ range(10)[2:8:2] }}",
 "{% set ns = namespace() %}{% set ns.a = 5 %}{{ ns.a }}",
 "{% set ns = namespace({'q': 1}) %}{{ ns.q }}",
 "{% set a = [] %}{% for x in xs %}{% set a = a + [x * 2] %}{% endfor %}{{ a }}",
 "{% set ns = namespace(a=[]) %}{% for x in xs %}{% set ns.a = ns.a + [x * 2] %}{% endfor %}{{ ns.a }}",
 "{{ m|selectattr('role', 'in', ['user']) |list|length }}",
 "{{ m|map(attribute='role')|map('lower')|unique|list }}",
 "{{ m[1:]|map(attribute='content')|join }}",
 "{% for a, b in [(1, 2), (3, 4)] %}{{ a }}{{ b }}{% endfor %}",
 "{% for a in {'x': 1, 'y': 2}|dictsort %}{{ a[0] }}{{ a[1] }}{% endfor %}",
 "{{ 'a,b,,c'.split(',') }}{{ ''.split(',') }}{{ ''.split() }}{{ 'a b'.split(none, 0) }}",
 "{{ 'ab'.startswith('') }}{{ ''.endswith('') }}{{ 'abc'.find('') }}",
 "{{ '%s and %s' % ('a', 'b') }}{{ '%s' % 'a' }}{{ '%s' % (1,) }}",
 "{{ 10|string|length }}{{ 1.50|string }}",
 "{{ {'b': 2, 'a': 1}|dictsort|first }}",
 "{{ xs|list|last }}{{ xs|reverse|first }}",
 "{{ 'X' if s is defined and s is not none and s|length > 0 else 'Y' }}",
 "{{ 1 is number and 'x' is not number }}",
 "{% set t = 'a' %}{% set t = t ~ 'b' %}{{ t }}",
 "{% if m[0]['role'] == 'user' and m[0]['content'] is string %}u{% endif %}",
 "{% for i in range(3) %}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }} {% endfor %}",
 "{% for x in xs %}{% if not loop.first %}, {% endif %}{{ x }}{% endfor %}",
 "{{ '\u00e9'|length }}{{ 'e\u0301'|length }}{{ '😀'|length }}{{ '😀a'[1] }}",
 "{{ 'abc'|list }}{{ 'héllo'|list|reverse|join }}",
 "{{ '  multiple   spaces  '|wordcount }}",
 "{{ xs|join }}{{ xs|join(', ') }}{{ [none, true]|join('|') }}",
 "{% filter trim %}   padded   {% endfilter %}|",
 "{% filter replace('a', 'b') %}banana{% endfilter %}",
 "{{ caller is defined }}",
 "{% macro m() %}{{ caller is defined }}{% endmacro %}{{ m() }}",
 "{{ 5 // 0 }}",
 "{{ 5 / 0 }}",
 "{{ xs.nope() }}",
 "{{ none() }}",
 "{% for x in 5 %}{% endfor %}",
 "{% for x in none %}{% endfor %}",
 "{{ xs|join(',', attribute='x') }}",
 "{{ 'abc' < 5 }}",
 "{{ [1] < ['a'] }}",
 "{{ undefined_thing|upper }}{{ undefined_thing|string }}{{ undefined_thing|trim }}{{ undefined_thing|list }}",
 "{{ undefined_thing ~ 'x' }}",
 "{{ undefined_thing is string }}{{ undefined_thing is none }}{{ undefined_thing is mapping }}{{ undefined_thing is iterable }}",
 "{% for x in undefined_thing %}x{% else %}empty{% endfor %}",
 "{{ undefined_thing|items|list }}",
 "{{ s.nope }}|{{ s['nope'] }}|{{ xs.nope }}|{{ 5 .real if false else '' }}",
 "{{ d.items }}",
 "{{ 'a' * -1 }}|{{ [1] * 0 }}",
 "{{ 1e309 }}{{ -1e309 }}",
 "{{ (0.1).__class__ if false else 'ok' }}",
 "{{ 3.0 == 3 }}{{ 2.5|int }}{{ -2.5|int }}{{ '-3'|int }}{{ '+3'|int }}{{ ' 3 '|int }}{{ '1_000'|int }}",
 "{{ 123456789012345678901234567890 }}",
 "{{ 2 ** 64 }}",
 "{{ 0.000012345 }}{{ 1.23e-5 }}{{ 123456789012345.6 }}{{ 1234567890123456.7 }}{{ 12345678901234567.0 }}",
 "{{ true + true }}{{ true * 3 }}{{ 1 + 1.5 }}",
 "{% raw -%}  raw  {%- endraw %}|",
 "a {%- raw %} b {% endraw -%} c",
 "{{ '{{' ~ '}}' }}",
 "{% set x = 'a' -%}\n\n\n{{ x }}",
 "{{ 'x' -}}\n\n\n{{- 'y' }}",
 "<{% if true %}\n{% endif %}>",
 "{% if true %}\n\n{% endif %}",
 "{% for x in xs %}{{ x }}\n{% endfor %}",
 "\n{% if true %}\nx\n{% endif %}\n\n",
 "   {% if true %}   x   {% endif %}   ",
 "a\n\t  {% if true %}b{% endif %}",
 "{% if true %}a{% endif %}  \n  {% if true %}b{% endif %}",
 "{{ 'q' }}\n{% if true %}x{% endif %}",
 "{% macro m(x) -%}\n  [{{ x }}]\n{%- endmacro %}\n{{ m(1) }}\n{{ m(2) }}",
 "{{ ''|tojson }}{{ 1.0|tojson }}{{ none|tojson }}{{ true|tojson }}{{ 'é'|tojson }}{{ [1.5, 2]|tojson }}",
 "{{ {'a': {'b': [1, {'c': none}]}}|tojson(indent=4) }}",
 "{{ {'a': 1}|tojson(indent=2, separators=(', ', ' = ')) }}",
 "{{ {'z': 1, 'a': {'y': 2, 'b': 3}}|tojson(sort_keys=true, indent=1) }}",
 "{{ xs|tojson(4) }}",
]
DROP = {  # Python-only behaviour that no C++ value model reproduces
    "{{ range(10)[2:8:2] }}", "{{ d.items }}", "{{ 123456789012345678901234567890 }}", "{{ 2 ** 64 }}",
}

weather = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city — “quoted” & <tagged>.",
  "parameters": {"type": "object", "properties": {
     "city": {"type": "string", "description": "City name, e.g. Zürich"},
     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
     "days": {"type": "integer", "description": "Days ahead", "default": 1},
     "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"},
     "opts": {"type": "object", "properties": {"precise": {"type": "boolean"}}, "description": "Options"}},
   "required": ["city"]}}}
calc = {"type": "function", "function": {"name": "calculate", "description": "Evaluate an arithmetic expression.",
  "parameters": {"type": "object", "properties": {"expr": {"type": "string", "description": "Expression"}}, "required": ["expr"]}}}
tools = [weather, calc]
CASES = [
 {"name": "tools-first-turn", "tools": tools, "messages": [{"role": "user", "content": "Weather in Zürich?"}], "add_generation_prompt": True},
 {"name": "tools-full-exchange", "tools": tools, "messages": [
   {"role": "system", "content": "You are helpful."},
   {"role": "user", "content": "What is 12*7 and the weather in Paris?"},
   {"role": "assistant", "content": "", "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "calculate", "arguments": {"expr": "12*7"}}},
      {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2, "tags": ["a", "b"], "opts": {"precise": True}}}}]},
   {"role": "tool", "tool_call_id": "call_1", "name": "calculate", "content": "84"},
   {"role": "tool", "tool_call_id": "call_2", "name": "get_weather", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
   {"role": "assistant", "content": "12*7 = 84 and Paris is 21.5 °C and clear."},
   {"role": "user", "content": "Thanks!"}], "add_generation_prompt": True, "enable_thinking": True},
 {"name": "tool-call-string-args", "tools": tools, "messages": [
   {"role": "user", "content": "Compute 2+2"},
   {"role": "assistant", "content": None, "tool_calls": [{"id": "abc123def", "type": "function", "function": {"name": "calculate", "arguments": "{\"expr\": \"2+2\"}"}}]},
   {"role": "tool", "tool_call_id": "abc123def", "content": "4"}], "add_generation_prompt": True},
 {"name": "multimodal", "messages": [
   {"role": "user", "content": [{"type": "text", "text": "Describe this:"}, {"type": "image"}, {"type": "text", "text": "Briefly."}]}], "add_generation_prompt": True},
 {"name": "documents", "documents": [{"title": "Doc A", "text": "Alpha text."}, {"text": "Beta text.", "title": "Doc B"}],
  "messages": [{"role": "user", "content": "Summarise the documents."}], "add_generation_prompt": True},
 {"name": "thinking-last-assistant", "messages": [
   {"role": "system", "content": "Be terse."},
   {"role": "user", "content": "2+2?"},
   {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4", "reasoning_content": "2 plus 2 is 4"}], "add_generation_prompt": False, "enable_thinking": True},
 {"name": "long-multiturn", "messages": [
   {"role": "user", "content": "  spaced  \n"}, {"role": "assistant", "content": "ok\n\n", "reasoning_content": "r1"},
   {"role": "user", "content": "again"}, {"role": "assistant", "content": "<think>x</think>y"},
   {"role": "user", "content": "😀 emoji \\ backslash \"quote\" 'single'\ttab"}], "add_generation_prompt": True, "enable_thinking": False},
]

def render(src, ctx):
    try:
        return {"output": env().from_string(src).render(**ctx)}
    except TemplateError as e:
        return {"error": str(e)}
    except Exception as e:
        return {"python_error": f"{type(e).__name__}: {e}"}

def jinja_cases():
    sets = []
    for ctx, templates in ((CTX1, T1.strip('\n').split('\n') + WS), (CTX2, L2)):
        cases = []
        for t in templates:
            if t in DROP:
                continue
            c = {"template": t}
            c.update(render(t, ctx))
            if t in KNOWN:
                c["known_difference"] = KNOWN[t]
            cases.append(c)
        sets.append({"context": ctx, "cases": cases})
    return {"generator": "make_cases.py (Jinja2 " + __import__('jinja2').__version__ + ")", "sets": sets}

def tool_cases():
    known = {
        ("Kimi-K2-Instruct.jinja", "list.append"): "list.append is allowed (the sandbox refuses it)",
        ("deepseek-ai-DeepSeek-V3.2.jinja", "from_json"): "from_json is a filter here (not in Jinja2)",
        ("deepseek-ai-DeepSeek-V4-Flash-0731.jinja", "from_json"): "from_json is a filter here (not in Jinja2)",
        ("deepseek-ai-DeepSeek-V4.jinja", "from_json"): "from_json is a filter here (not in Jinja2)",
        ("llama-cpp-deepseek-r1.jinja", "generator"): "tojson serialises map()'s result (Jinja2 cannot)",
    }
    out = {}
    for fn in sorted(os.listdir(REF)):
        if not fn.endswith('.jinja'):
            continue
        src = open(os.path.join(REF, fn), encoding='utf-8').read()
        res = []
        for case in CASES:
            ctx = {k: v for k, v in case.items() if k != "name"}
            ctx.update({"bos_token": "<BOS>", "eos_token": "<EOS>"})
            r = {"case": case["name"]}
            got = render(src, ctx)
            if "output" in got:
                b = got["output"].encode('utf-8')
                r.update({"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)})
            else:
                r.update(got)
                msg = got.get("python_error", "")
                for (tf, key), why in known.items():
                    if tf == fn and (key in msg or (key == "list.append" and "append" in msg)):
                        r["known_difference"] = why
            res.append(r)
        out[fn] = res
    return {"generator": "make_cases.py", "bos_token": "<BOS>", "eos_token": "<EOS>", "cases": CASES, "expected": out}

if __name__ == "__main__":
    json.dump(jinja_cases(), open(os.path.join(HERE, 'jinja_cases.json'), 'w'), ensure_ascii=False, indent=1)
    json.dump(tool_cases(), open(os.path.join(HERE, 'tool_cases.json'), 'w'), ensure_ascii=False, indent=1)
