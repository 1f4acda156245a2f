// Chat templates: the engine's Jinja interpreter against Python's Jinja2.
//  - the 47 real templates x 5 conversations of ../shared/reference/chat-templates
//    (expected.json: Jinja2's output, byte for byte, or the raise_exception message);
//  - the same templates on 7 conversations with tools, tool calls, multimodal
//    content and documents (tests/data/chat-templates/tool_cases.json: SHA-256 of
//    Jinja2's output);
//  - ~200 small templates over Python semantics (tests/data/chat-templates/
//    jinja_cases.json, no ../shared needed; make_cases.py regenerates both);
//  - unit tests: whitespace control, loops, scoping, macros, filters, tests,
//    values, errors naming their line, limits (deep nesting, runaway templates).
#include <QCryptographicHash>
#include <QFile>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "reasonscope/chat_template.h"
#include "test_paths.h"

using namespace rs;
using nlohmann::ordered_json;

namespace {

std::string read_file(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QByteArray b = f.readAll();
    return std::string(b.constData(), static_cast<size_t>(b.size()));
}

ordered_json read_json(const QString& path) {
    return ordered_json::parse(read_file(path));
}

QString data_dir() {
    return QStringLiteral(RS_SOURCE_DIR) + "/tests/data/chat-templates";
}

QString templates_dir() {
    return rs::test::reference("chat-templates");
}

// The fixed time of the reference renderings: 2026-12-04 12:00:00.
ChatTemplateOptions pinned() {
    ChatTemplateOptions o;
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 11;
    tm.tm_mday = 4;
    tm.tm_hour = 12;
    o.now = tm;
    return o;
}

std::string render(const std::string& tpl, const ordered_json& ctx = ordered_json::object(),
                   const ChatTemplateOptions& opt = pinned()) {
    return ChatTemplate::parse(tpl).render(ctx, opt);
}

// The error a template gives (parse or render); fails the test if none.
ChatTemplateError error_of(const std::string& tpl, const ordered_json& ctx = ordered_json::object(),
                           const ChatTemplateOptions& opt = pinned()) {
    try {
        render(tpl, ctx, opt);
    } catch (const ChatTemplateError& e) {
        return e;
    }
    return ChatTemplateError(ChatTemplateError::Kind::Runtime, "<no error>", -1, -1);
}

std::string printable(const std::string& s) {
    return ordered_json(s).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// Where two renderings first differ, with some context.
QString first_difference(const std::string& got, const std::string& want) {
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    size_t from = i > 40 ? i - 40 : 0;
    return QString("differs at byte %1 (lengths %2 vs %3)\n   got: %4\n  want: %5")
        .arg(i)
        .arg(got.size())
        .arg(want.size())
        .arg(QString::fromStdString(printable(got.substr(from, 120))))
        .arg(QString::fromStdString(printable(want.substr(from, 120))));
}

ordered_json case_context(const ordered_json& c, const ordered_json& file) {
    ordered_json ctx = ordered_json::object();
    for (const auto& [k, v] : c.items())
        if (k != "name") ctx[k] = v;
    ctx["bos_token"] = file["bos_token"];
    ctx["eos_token"] = file["eos_token"];
    return ctx;
}

struct Counts {
    int pass = 0, total = 0;
};
Counts reference_counts;

struct UnitCase {
    const char* name;
    const char* tpl;
    const char* want;
};

const char* kUnitContext =
    R"json({"tree": [{"name": "a", "kids": [{"name": "b", "kids": []}, {"name": "c", "kids": [{"name": "d"}]}]}, {"name": "e"}], "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}], "data": {"name": "x", "list": [1, 2.5, null, true], "nested": {"k": "v"}}, "d": {"a": 1, "b": [2]}})json";

// Expected outputs are Python Jinja2 3.1's, rendered with Hugging Face's settings.
const UnitCase kUnitCases[] = {
    {"trim_blocks", "<ul>\n{% for x in [1, 2] %}\n  <li>{{ x }}</li>\n{% endfor %}\n</ul>\n",
     "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>"},
    {"lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", "a\n    b\nc"},
    {"dash_strips_all", "a  \n\n  {%- if true -%}  \n\n  b  \n  {%- endif -%}\n\n  c", "abc"},
    {"plus_keeps", "a\n    {%+ if true %}b{% endif +%}\nc", "a\n    b\nc"},
    {"variable_not_lstripped", "a\n    {{ 'v' }}\nb", "a\n    v\nb"},
    {"comment_trimmed", "a\n  {# note #}\nb {#- tight -#} c", "a\nbc"},
    {"raw", "{% raw %}{{ kept }} {% if %}{% endraw %}", "{{ kept }} {% if %}"},
    {"trailing_newline", "x\n", "x"},
    {"crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", "a\nb\n"},
    {"loop_vars",
     "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 "
     "}}{{ loop.first|int }}{{ loop.last|int }}{{ loop.length }}[{{ loop.previtem }}|{{ "
     "loop.nextitem }}] {% endfor %}",
     "1032103[|b] 2121003[a|c] 3210013[b|] "},
    {"loop_filter_else",
     "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}{% for x in [] "
     "%}{% else %}empty{% endfor %}",
     "2/2 4/2 empty"},
    {"loop_controls",
     "{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}{% if x > 6 %}{% break "
     "%}{% endif %}{{ x }}{% endfor %}",
     "0246"},
    {"loop_cycle_nested",
     "{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index "
     "}}{{ loop.cycle('+', '-') }}{% endfor %}{% endfor %}",
     "11+12-21+22-"},
    {"recursive_loop",
     "{% for n in tree recursive %}{{ n.name }}{% if n.kids %}({{ loop(n.kids) }}){% endif %}{% "
     "endfor %}",
     "a(bc(d))e"},
    {"unpack",
     "{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'b': "
     "1, 'a': 2}|dictsort %}{{ k }}={{ v }};{% endfor %}",
     "b=1;a=2;a=2;b=1;"},
    {"scoping",
     "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}|{% if true "
     "%}{% set y = 5 %}{% endif %}{{ y }}|{% set ns = namespace(t=0) %}{% for i in [1, 2, 3] %}{% "
     "set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}",
     "231|5|6"},
    {"macros",
     "{% macro tag(name, body='', attrs={}) -%}<{{ name }}{% for k, v in attrs|dictsort %} {{ k "
     "}}=\"{{ v }}\"{% endfor %}>{{ body }}</{{ name }}>{%- endmacro %}{{ tag('b', 'bold') }}{{ "
     "tag('a', body='x', attrs={'href': '/', 'id': 1}) }}",
     "<b>bold</b><a href=\"/\" id=\"1\">x</a>"},
    {"call_block",
     "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('T') %}inside "
     "{{ 1 + 1 }}{% endcall %}{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% "
     "endmacro %}{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}",
     "[T: inside 2]<1><2>"},
    {"varargs_kwargs",
     "{% macro f(a) %}{{ a }}{{ varargs }}{{ kwargs|dictsort }}{% endmacro %}{{ f(1, 2, 3, z=4, "
     "y=5) }}",
     "1(2, 3)[('y', 5), ('z', 4)]"},
    {"set_block_filter",
     "{% set s | upper %}  hi {{ 'there' }}{% endset %}[{{ s }}]{% filter trim %}   pad   {% "
     "endfilter %}|",
     "[  HI THERE]pad|"},
    {"generation", "{% generation %}assistant text{% endgeneration %}", "assistant text"},
    {"f_strings",
     "{{ '  Hello World  '|trim }}|{{ 'hello wORLD'|title }}|{{ 'hello'|capitalize }}|{{ "
     "'Hi'|upper }}{{ 'Hi'|lower }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'one two  three'|wordcount "
     "}}|{{ 'x'|center(5) }}|",
     "Hello World|Hello World|Hello|HIhi|a+b+c|3|  x  |"},
    {"f_lists",
     "{{ [3, 1, 2]|sort }}{{ ['b', 'A', 'a']|sort }}{{ ['b', 'A', 'a']|unique|list }}{{ [1, 2, "
     "3]|reverse|list }}{{ [1, 2]|first }}{{ [1, 2]|last }}{{ [1, 2, 3]|length }}{{ [1, 2, 3]|sum "
     "}}{{ [4, 9]|min }}{{ [4, 9]|max }}{{ [1, 2]|join('-') }}",
     "[1, 2, 3]['A', 'a', 'b']['b', 'A'][3, 2, 1]1236491-2"},
    {"f_map_select",
     "{{ msgs|map(attribute='role')|list }}{{ msgs|selectattr('role', 'equalto', "
     "'user')|list|length }}{{ msgs|rejectattr('role', 'eq', 'user')|map(attribute='content')|join "
     "}}{{ [1, 2, 3, 4]|select('odd')|list }}{{ [1, 2, 3, 4]|reject('odd')|list }}{{ ['a', "
     "'b']|map('upper')|join }}",
     "['system', 'user', 'assistant']1SA[1, 3][2, 4]AB"},
    {"f_indent",
     "{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, first=true) }}|{{ 'a\n\nb'|indent(2, "
     "blank=true) }}",
     "a\n  b\n\n  c|  a\n  b|a\n  \n  b"},
    {"f_numbers",
     "{{ '42'|int + 1 }} {{ 'x'|int(7) }} {{ '2.5'|float }} {{ -3|abs }} {{ 2.5|round }} {{ "
     "3.14159|round(2) }} {{ 2.1|round(method='ceil') }} {{ 10|string ~ 'x' }}",
     "43 7 2.5 3 2.0 3.14 3.0 10x"},
    {"f_default",
     "{{ missing|default('dflt') }}|{{ none|default('dflt') }}|{{ ''|default('dflt', true) }}|{{ "
     "missing|d('d') }}",
     "dflt|None|dflt|d"},
    {"f_items_dictsort",
     "{{ {'b': 1, 'a': 2}|items|list }}{{ {'b': 1, 'A': 2, 'a': 3}|dictsort }}{{ {'b': 1, 'a': "
     "2}|dictsort(by='value', reverse=true) }}",
     "[('b', 1), ('a', 2)][('A', 2), ('a', 3), ('b', 1)][('a', 2), ('b', 1)]"},
    {"f_tojson",
     "{{ data|tojson }}|{{ data|tojson(indent=2) }}|{{ data|tojson(separators=(',', ':'), "
     "sort_keys=true) }}|{{ 'é\"\n'|tojson }}|{{ 'é'|tojson(ensure_ascii=true) }}",
     "{\"name\": \"x\", \"list\": [1, 2.5, null, true], \"nested\": {\"k\": \"v\"}}|{\n  \"name\": "
     "\"x\",\n  \"list\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"nested\": {\n    "
     "\"k\": \"v\"\n  "
     "}\n}|{\"list\":[1,2.5,null,true],\"name\":\"x\",\"nested\":{\"k\":\"v\"}}|\"é\\\"\\n\"|"
     "\"\\u00e9\""},
    {"f_escape_safe",
     "{{ '<a href=\"x\">&</a>'|e }}|{{ ('<b>'|safe) + '<i>' }}|{{ '<b>'|safe ~ '<i>' }}",
     "&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;|<b>&lt;i&gt;|<b><i>"},
    {"tests",
     "{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ 'a' is string "
     "}}{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is iterable }}{{ none is none }}{{ x is "
     "defined }}{{ x is undefined }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'b' is "
     "in 'abc' }}{{ 2 is eq 2 }}{{ 2 is equalto(3) }}{{ 'ab' is lower }}{{ true is true }}{{ false "
     "is false }}",
     "TrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueFalseTrueTrueTrue"},
    {"operators",
     "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 2 ** 8 }} {{ "
     "'ab' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ 1 < 2 < 3 }} {{ 1 in [1] }} {{ 'x' not "
     "in 'abc' }} {{ 'y' if false else 'n' }} {{ none or 'v' }} {{ 0 and 1 }} {{ not none }}",
     "3 -4 1 2 3.5 3.0 256 ab1None abab [1, 2] True True True n v 0 True"},
    {"python_str",
     "{{ none }} {{ true }} {{ 1.0 }} {{ 1e20 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1/3 }} {{ [1, 'a', "
     "none, true, 1.5] }} {{ {'k': 'it\\'s', 'q': [(1, 2)]} }} {{ (1,) }}",
     "None True 1.0 1e+20 0.0001 1e-05 0.3333333333333333 [1, 'a', None, True, 1.5] {'k': "
     "\"it's\", 'q': [(1, 2)]} (1,)"},
    {"slicing",
     "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-2:] }} {{ [1, 2, 3, 4][::2] }} {{ "
     "'héllo'[1] }} {{ 'héllo'|length }} {{ [1, 2][5] }}|",
     "el olleh lo [1, 3] é 5 |"},
    {"string_methods",
     "{{ 'a,b,c'.split(',') }} {{ ' x y '.split() }} {{ 'a,b,c'.rsplit(',', 1) }} {{ "
     "'xxhixx'.strip('x') }} {{ '  l'.lstrip() }} {{ 'r  '.rstrip() }}| {{ "
     "'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'hello'.replace('l', 'L', "
     "1) }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ '{}-{name}'.format(1, name='n') }} "
     "{{ 'hello world'.title() }} {{ 'ABC'.lower() }}",
     "['a', 'b', 'c'] ['x', 'y'] ['a,b', 'c'] hi l r| True True heLlo 2 2 1-n Hello World abc"},
    {"dict_methods",
     "{{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.get('zz') }} {{ d.keys()|list }} {{ "
     "d.values()|list }} {% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %} {{ d.a }} {{ d['a'] "
     "}} {{ d.missing }}|",
     "1 dflt None ['a', 'b'] [1, [2]] a1b[2] 1 1 |"},
    {"globals",
     "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ dict(a=1) }} {{ namespace(v=2).v }} {{ "
     "strftime_now('%Y-%m-%d %H:%M %A %b') }}",
     "[0, 1, 2] [1, 3, 5] {'a': 1} 2 2026-12-04 12:00 Friday Dec"},
};

}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT
  private slots:
    // ---------------------------------------------------------------- reference

    void referenceTemplates_data() {
        QTest::addColumn<QString>("file");
        if (!rs::test::have_reference()) {
            QTest::newRow("absent") << QString();
            return;
        }
        auto exp = read_json(templates_dir() + "/expected.json");
        for (const auto& [name, results] : exp["expected"].items())
            QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }
    void referenceTemplates() {
        RS_REQUIRE_REFERENCE();
        QFETCH(QString, file);
        auto exp = read_json(templates_dir() + "/expected.json");
        const auto& results = exp["expected"][file.toStdString()];
        ChatTemplate tpl = ChatTemplate::parse(read_file(templates_dir() + "/" + file));
        QStringList failures;
        for (size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            ordered_json ctx = case_context(exp["cases"][i], exp);
            QString name = QString::fromStdString(r["case"].get<std::string>());
            ++reference_counts.total;
            try {
                std::string got = tpl.render(ctx, pinned());
                if (!r.contains("output")) {
                    failures << name + ": rendered, expected the error " +
                                    QString::fromStdString(r.value("error", std::string()));
                    continue;
                }
                std::string want = r["output"].get<std::string>();
                if (got != want) {
                    failures << name + ": " + first_difference(got, want);
                    continue;
                }
            } catch (const ChatTemplateError& e) {
                if (!r.contains("error") || r["error"].get<std::string>() != e.what() ||
                    e.kind() != ChatTemplateError::Kind::Raised) {
                    failures << name + ": " + QString::fromUtf8(e.what());
                    continue;
                }
            }
            ++reference_counts.pass;
        }
        if (!failures.isEmpty()) QFAIL(qPrintable(failures.join("\n")));
    }
    void referenceSummary() {
        RS_REQUIRE_REFERENCE();
        qInfo("reference: %d of %d renderings equal Jinja2's byte for byte", reference_counts.pass,
              reference_counts.total);
        QCOMPARE(reference_counts.total, 47 * 5);
        QCOMPARE(reference_counts.pass, reference_counts.total);
    }

    // Tools, tool calls, multimodal content, documents: Jinja2's output as SHA-256.
    void toolConversations_data() {
        QTest::addColumn<QString>("file");
        if (!rs::test::have_reference()) {
            QTest::newRow("absent") << QString();
            return;
        }
        auto exp = read_json(data_dir() + "/tool_cases.json");
        for (const auto& [name, results] : exp["expected"].items())
            QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }
    void toolConversations() {
        RS_REQUIRE_REFERENCE();
        QFETCH(QString, file);
        auto exp = read_json(data_dir() + "/tool_cases.json");
        const auto& results = exp["expected"][file.toStdString()];
        std::string src = read_file(templates_dir() + "/" + file);
        QVERIFY2(!src.empty(), qPrintable("missing " + file));
        ChatTemplate tpl = ChatTemplate::parse(src);
        QStringList failures;
        for (size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            if (r.contains("known_difference")) continue;  // documented: we render, Jinja2 refuses
            ordered_json ctx = case_context(exp["cases"][i], exp);
            QString name = QString::fromStdString(r["case"].get<std::string>());
            try {
                std::string got = tpl.render(ctx, pinned());
                if (!r.contains("sha256")) {
                    failures << name + ": rendered, but Jinja2 fails: " +
                                    QString::fromStdString(r.dump());
                    continue;
                }
                QByteArray digest = QCryptographicHash::hash(
                                        QByteArray(got.data(), static_cast<qsizetype>(got.size())),
                                        QCryptographicHash::Sha256)
                                        .toHex();
                if (digest.toStdString() != r["sha256"].get<std::string>())
                    failures << name + QString(": output differs (%1 bytes, Jinja2 %2)")
                                           .arg(got.size())
                                           .arg(r["bytes"].get<int64_t>());
            } catch (const ChatTemplateError& e) {
                if (r.contains("sha256"))
                    failures << name + ": " + QString::fromUtf8(e.what());
                else if (r.contains("error") && r["error"].get<std::string>() != e.what())
                    failures << name + ": message " + QString::fromUtf8(e.what());
                // python_error: Jinja2 fails too (its message is Python's own)
            }
        }
        if (!failures.isEmpty()) QFAIL(qPrintable(failures.join("\n")));
    }

    // Small templates over Python semantics (no ../shared needed).
    void jinjaCases_data() {
        QTest::addColumn<QByteArray>("tpl");
        QTest::addColumn<QByteArray>("context");
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QByteArray>("want");
        auto file = read_json(data_dir() + "/jinja_cases.json");
        QVERIFY(file["sets"].size() == 2);
        int n = 0;
        for (const auto& set : file["sets"]) {
            QByteArray ctx = QByteArray::fromStdString(set["context"].dump());
            for (const auto& c : set["cases"]) {
                QString kind = c.contains("known_difference") ? "known"
                               : c.contains("output")         ? "output"
                               : c.contains("error")          ? "error"
                                                              : "python_error";
                std::string want = c.contains("output")  ? c["output"].get<std::string>()
                                   : c.contains("error") ? c["error"].get<std::string>()
                                                         : std::string();
                std::string t = c["template"].get<std::string>();
                QTest::newRow(qPrintable(QString("%1: %2").arg(n++).arg(
                    QString::fromStdString(t.substr(0, 50)).replace('\n', ' '))))
                    << QByteArray::fromStdString(t) << ctx << kind
                    << QByteArray::fromStdString(want);
            }
        }
        QVERIFY(n > 200);
    }
    void jinjaCases() {
        QFETCH(QByteArray, tpl);
        QFETCH(QByteArray, context);
        QFETCH(QString, kind);
        QFETCH(QByteArray, want);
        ordered_json ctx = ordered_json::parse(context.toStdString());
        std::string got;
        try {
            got = render(tpl.toStdString(), ctx);
        } catch (const ChatTemplateError& e) {
            if (kind == "python_error") return;  // Jinja2 fails as well
            if (kind == "error" && e.what() == want.toStdString()) return;
            QFAIL(qPrintable(QString("raised: ") + QString::fromUtf8(e.what())));
        }
        if (kind == "known") return;
        if (kind != "output") QFAIL(qPrintable("rendered, but Jinja2 fails: " + QString(want)));
        std::string w = want.toStdString();
        if (got != w) QFAIL(qPrintable(first_difference(got, w)));
    }

    // ---------------------------------------------------------------- units

    void unitTemplates_data() {
        QTest::addColumn<QByteArray>("tpl");
        QTest::addColumn<QByteArray>("want");
        for (const auto& c : kUnitCases)
            QTest::newRow(c.name) << QByteArray(c.tpl) << QByteArray(c.want);
    }
    void unitTemplates() {
        QFETCH(QByteArray, tpl);
        QFETCH(QByteArray, want);
        std::string got = render(tpl.toStdString(), ordered_json::parse(kUnitContext));
        if (got != want.toStdString()) QFAIL(qPrintable(first_difference(got, want.toStdString())));
    }

    void raiseExceptionGivesItsMessage() {
        auto e = error_of(
            "{% if messages[0].role == 'system' %}\n"
            "  {{ raise_exception('System role not supported') }}\n{% endif %}",
            {{"messages", {{{"role", "system"}, {"content", "x"}}}}});
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Raised);
        QCOMPARE(QString(e.what()), QString("System role not supported"));
        QCOMPARE(e.line(), 2);
        // from a macro, with a computed message
        e = error_of(
            "{% macro m(r) %}{{ raise_exception('bad role: ' ~ r) }}{% endmacro %}{{ m('x') }}");
        QCOMPARE(QString(e.what()), QString("bad role: x"));
    }

    void syntaxErrorsNameTheLine_data() {
        QTest::addColumn<QByteArray>("tpl");
        QTest::addColumn<int>("line");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unknown tag")
            << QByteArray("a\nb\n{% frobnicate x %}") << 3 << "unknown tag 'frobnicate'";
        QTest::newRow("include") << QByteArray("{% set x = 1 %}\n{% include 'other.jinja' %}") << 2
                                 << "'include' tag is not supported";
        QTest::newRow("extends") << QByteArray("{% extends 'base' %}") << 1 << "'extends'";
        QTest::newRow("unclosed if") << QByteArray("x\n\n{% if a %}\nbody") << 3 << "never closed";
        QTest::newRow("unclosed for") << QByteArray("{% for a in b %}{% if c %}{% endif %}") << 1
                                      << "'for' tag on line 1 is never closed";
        QTest::newRow("stray end") << QByteArray("a\n{% endif %}") << 2 << "unexpected 'endif'";
        QTest::newRow("unclosed print") << QByteArray("a\n{{ x ") << 2 << "never closed";
        QTest::newRow("unclosed comment") << QByteArray("a\n{# x") << 2 << "comment";
        QTest::newRow("unbalanced") << QByteArray("\n\n{{ (a] }}") << 3 << "expected ')'";
        QTest::newRow("bad operator")
            << QByteArray("{{ a ! b }}") << 1 << "unexpected character '!'";
        QTest::newRow("missing expr")
            << QByteArray("{% set x = %}") << 1 << "expected an expression";
        QTest::newRow("string") << QByteArray("\n{{ 'abc }}") << 2 << "unterminated string";
        QTest::newRow("break outside loop")
            << QByteArray("{% break %}") << 1 << "outside of a for loop";
        QTest::newRow("assign to literal")
            << QByteArray("{% set true = 1 %}") << 1 << "cannot assign";
        QTest::newRow("default order")
            << QByteArray("{% macro m(a=1, b) %}{% endmacro %}") << 1 << "non-default argument";
    }
    void syntaxErrorsNameTheLine() {
        QFETCH(QByteArray, tpl);
        QFETCH(int, line);
        QFETCH(QString, mentions);
        try {
            ChatTemplate::parse(tpl.toStdString());
            QFAIL("expected a syntax error");
        } catch (const ChatTemplateError& e) {
            QCOMPARE(e.kind(), ChatTemplateError::Kind::Syntax);
            QCOMPARE(e.line(), line);
            QVERIFY2(QString(e.what()).contains(mentions), e.what());
            QVERIFY2(QString(e.what()).contains(QString("line %1").arg(line)), e.what());
        }
    }

    void runtimeErrorsNameTheLine() {
        auto e =
            error_of("line one\n{% for m in messages %}\n{{ m.content.nope.deeper }}\n{% endfor %}",
                     {{"messages", {{{"role", "user"}, {"content", "x"}}}}});
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Runtime);
        QCOMPARE(e.line(), 3);
        QVERIFY2(QString(e.what()).contains("has no attribute 'nope'"), e.what());
        e = error_of("\n\n{{ 1 + 'a' }}");
        QCOMPARE(e.line(), 3);
        QVERIFY2(QString(e.what()).contains("unsupported operand"), e.what());
        e = error_of("{{ x|no_such_filter }}");
        QVERIFY2(QString(e.what()).contains("no filter named 'no_such_filter'"), e.what());
        // an unknown filter only fails when reached (Jinja2 defers it in branches too)
        QCOMPARE(render("{% if false %}{{ x|from_the_future }}{% endif %}ok"), std::string("ok"));
        e = error_of("{% macro f(a) %}{% endmacro %}{{ f(1, 2) }}");
        QVERIFY2(QString(e.what()).contains("takes not more than 1 argument"), e.what());
        QVERIFY_THROWS_EXCEPTION(ChatTemplateError,
                                 ChatTemplate::parse("x").render(ordered_json::array()));
    }

    void deepNestingIsAnError() {
        auto rep = [](const std::string& s, int n) {
            std::string r;
            for (int i = 0; i < n; ++i) r += s;
            return r;
        };
        struct {
            std::string tpl;
            ChatTemplateError::Kind kind;
        } cases[] = {
            {"{{ " + rep("(", 50000) + "1" + rep(")", 50000) + " }}",
             ChatTemplateError::Kind::Syntax},
            {"{{ " + rep("[", 50000) + rep("]", 50000) + " }}", ChatTemplateError::Kind::Syntax},
            {"{{ 1" + rep(" + 1", 100000) + " }}", ChatTemplateError::Kind::Syntax},
            {"{{ x" + rep("|trim", 100000) + " }}", ChatTemplateError::Kind::Syntax},
            {"{{ " + rep("not ", 100000) + "x }}", ChatTemplateError::Kind::Syntax},
            {rep("{% if true %}", 50000) + rep("{% endif %}", 50000),
             ChatTemplateError::Kind::Syntax},
            {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
             ChatTemplateError::Kind::Limit},
            {"{% macro f() %}{% for x in [1] %}{{ g() }}{% endfor %}{% endmacro %}"
             "{% macro g() %}{% if true %}{{ f() }}{% endif %}{% endmacro %}{{ f() }}",
             ChatTemplateError::Kind::Limit},
            {"{% set t = [[]] %}{% for x in t recursive %}{{ loop(t) }}{% endfor %}",
             ChatTemplateError::Kind::Limit},
            // a value nested 5000 deep (built in a loop) cannot be printed or serialised...
            {"{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}"
             "{% endfor %}{{ ns.x|tojson }}",
             ChatTemplateError::Kind::Limit},
            // ...nor can one that contains itself
            {"{% set l = [] %}{% set _ = l.append(l) %}{{ l }}", ChatTemplateError::Kind::Limit},
        };
        for (const auto& c : cases) {
            auto e = error_of(c.tpl);
            QVERIFY2(e.line() >= 0, qPrintable(QString::fromStdString(c.tpl.substr(0, 80))));
            QCOMPARE(e.kind(), c.kind);
        }
        // 100000 elif branches are flat, not nested
        QCOMPARE(
            render("{% if false %}" + rep("{% elif false %}", 100000) + "{% else %}ok{% endif %}"),
            std::string("ok"));
        // a deep value is freed without recursion
        QCOMPARE(render("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}"
                        "{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x|length }}"),
                 std::string("1"));
        // deep JSON in the context is an error, not a crash
        ordered_json deep = ordered_json::array();
        for (int i = 0; i < 2000; ++i) deep = ordered_json::array({deep});
        QVERIFY_THROWS_EXCEPTION(ChatTemplateError, render("{{ x }}", {{"x", deep}}));
    }

    void runawayTemplatesStop() {
        ChatTemplateOptions o = pinned();
        o.max_steps = 200000;
        auto e = error_of(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            ordered_json::object(), o);
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
        QVERIFY2(QString(e.what()).contains("step budget"), e.what());
        o = pinned();
        o.max_output = 1 << 20;
        e = error_of("{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
                     ordered_json::object(), o);
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
        e = error_of(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}",
            ordered_json::object(), o);
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
        o.max_steps = 200000;
        e = error_of(
            "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
            "{% endfor %}",
            ordered_json::object(), o);
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
        e = error_of("{{ 'abc' * 100000000000 }}");
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
        e = error_of("{{ range(1000000000)|length }}");
        QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
        QVERIFY2(QString(e.what()).contains("Range too big"), e.what());
    }

    void contextKeyOrder() {
        // ordered_json keeps insertion order (as Python dicts); nlohmann::json sorts.
        ordered_json o = {{"tools", {{{"z", 1}, {"a", 2}}}}};
        QCOMPARE(render("{{ tools[0]|tojson }}", o), std::string(R"({"z": 1, "a": 2})"));
        nlohmann::json j = {{"tools", {{{"z", 1}, {"a", 2}}}}};
        QCOMPARE(ChatTemplate::parse("{{ tools[0]|tojson }}").render(j),
                 std::string(R"({"a": 2, "z": 1})"));
    }

    void extensionsBeyondJinja2() {
        // list.append/pop and dict.update work (Hugging Face's immutable sandbox refuses them)
        QCOMPARE(render("{% set q = namespace(ids=[]) %}{% set _ = q.ids.append('a') %}"
                        "{% set _ = q.ids.append('b') %}{{ q.ids.pop(0) }}{{ q.ids }}"),
                 std::string("a['b']"));
        // from_json parses a JSON string (DeepSeek's templates use it for string arguments)
        QCOMPARE(render("{% set a = '{\"x\": [1, 2.5]}'|from_json %}{{ a.x[1] }}"),
                 std::string("2.5"));
    }

    void strftimeNow() {
        QCOMPARE(render("{{ strftime_now('%d %b %Y, %A %H:%M') }}"),
                 std::string("04 Dec 2026, Friday 12:00"));
        // without a pinned time it is today
        std::string now =
            ChatTemplate::parse("{{ strftime_now('%Y') }}").render(ordered_json::object());
        QCOMPARE(now.size(), size_t(4));
    }

    // Hex, octal and binary literals past int64 become floats, as decimal
    // ones do (found by fuzz_chat_template: the lexer's product overflowed,
    // so 0x10000000000000000 read as 0).
    void bigNonDecimalLiteralsDoNotWrap() {
        QCOMPARE(render("{{ 0x7fffffffffffffff }}|{{ 0x10000000000000000 > 0 }}|"
                        "{{ 0o7777777777777777777777 > 0 }}|{{ 0b1"
                        "0000000000000000000000000000000000000000000000000000000000000000 > 0 }}"),
                 std::string("9223372036854775807|True|True|True"));
        QCOMPARE(render("{{ 0x10000000000000000 == 18446744073709551616.0 }}"),
                 std::string("True"));
    }

    // %-formatting with widths and values past int64 (found by
    // fuzz_chat_template: overflowing width digits, -INT64_MIN, a huge float
    // cast to int): errors or Python's results, never a wrap.
    void percentFormatAtTheLimits() {
        QCOMPARE(render("{{ '%d|%x' % (-9223372036854775807 - 1, -9223372036854775807 - 1) }}"),
                 std::string("-9223372036854775808|-8000000000000000"));
        QCOMPARE(render("{{ '%d' % 1e20 }}"), std::string("100000000000000000000"));
        QCOMPARE(render("{{ '%5d|%-4s|' % (42, 'a') }}"), std::string("   42|a   |"));
        for (const char* t : {"{{ '%99999999999999999999d' % 1 }}", "{{ '%.99999999999d' % 1 }}"})
            try {
                render(t);
                QFAIL(t);
            } catch (const ChatTemplateError& e) {
                QCOMPARE(e.kind(), ChatTemplateError::Kind::Limit);
            }
        // str.format: indexes and widths past int64 (std::stoul threw
        // std::out_of_range, which no caller expects).
        for (const char* t :
             {"{{ '{99999999999999999999}'.format(1) }}",
              "{{ '{:99999999999999999999}'.format(1) }}",
              "{{ '{:.99999999999999999999}'.format(1.5) }}", "{{ 'x'.center(10**12) }}",
              "{{ '{0[99999999999999999999]}'.format([1]) }}"}) {
            try {
                render(t);
            } catch (const ChatTemplateError&) {
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString(t) + ": " + e.what()));
            }
        }
        QCOMPARE(render("{{ '{:>6}|{:.2f}'.format(7, 1.5) }}"), std::string("     7|1.50"));
        try {
            render("{{ '%d' % (1e400 - 1e400) }}");
            QFAIL("NaN as %d");
        } catch (const ChatTemplateError& e) {
            QVERIFY2(QString(e.what()).contains("NaN"), e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "tst_chat_template.moc"
