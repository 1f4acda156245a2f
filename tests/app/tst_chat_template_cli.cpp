// `reasonscope chat-template` as a user runs it: the prompt printed byte for
// byte from a .jinja file or a model's tokenizer.chat_template (with the
// model's BOS/EOS texts), variables from --set, and one-line errors with exit
// code 2 (a template's raise_exception message, a syntax error's line).
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "reasonscope/gguf.h"
#include "test_paths.h"

namespace {

struct Result {
    int code;
    QByteArray out, err;
};

Result run(const QStringList& args, const QByteArray& stdin_data = {}) {
    QProcess p;
    p.start(rs::test::binary("reasonscope"), args);
    if (!stdin_data.isEmpty()) p.write(stdin_data);
    p.closeWriteChannel();
    p.waitForFinished(60000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

void write_file(const QString& path, const QByteArray& data) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}"
    "{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ m.role }}|>\n{{ m.content | trim }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}"
    "{% endif %}{% if date is defined %}{{ strftime_now('%Y-%m-%d') }}{% endif %}";

const char* kMessages =
    R"([{"role": "user", "content": "  Hi  "}, {"role": "assistant", "content": "Hello"}])";

}  // namespace

class TestChatTemplateCli : public QObject {
    Q_OBJECT
  private slots:
    void rendersATemplateFile() {
        QTemporaryDir dir;
        write_file(dir.filePath("t.jinja"), kTemplate);
        write_file(dir.filePath("m.json"), kMessages);
        auto r = run({"chat-template", "--template", dir.filePath("t.jinja"), "--messages",
                      dir.filePath("m.json"), "--add-generation-prompt", "--bos", "<s>", "--eos",
                      "</s>", "--set", "enable_thinking=false"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out, QByteArray("<s><|user|>\nHi</s>\n<|assistant|>\nHello</s>\n<|assistant|>\n"
                                   "<think></think>"));  // exactly: no newline added
        // stdin, an object of variables, a pinned date
        r = run({"chat-template", "--template", dir.filePath("t.jinja"), "--messages", "-", "--now",
                 "2026-12-04", "--set", "date=1"},
                R"({"messages": [{"role": "user", "content": "x"}]})");
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out, QByteArray("<|user|>\nx\n2026-12-04"));
    }

    void rendersAModelsTemplate() {
        QTemporaryDir dir;
        rs::GgufWriter w;
        w.add_string("general.architecture", "llama");
        w.add_string("tokenizer.ggml.model", "llama");
        w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<|begin|>", "<|end|>", "a"});
        w.add_u32("tokenizer.ggml.bos_token_id", 1);
        w.add_u32("tokenizer.ggml.eos_token_id", 2);
        w.add_string("tokenizer.chat_template", kTemplate);
        w.add_string("tokenizer.chat_template.short", "{{ messages|length }}{{ eos_token }}");
        w.write(dir.filePath("m.gguf").toStdString());
        write_file(dir.filePath("m.json"), kMessages);
        auto r = run({"chat-template", "--model", dir.filePath("m.gguf"), "--messages",
                      dir.filePath("m.json")});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out, QByteArray("<|begin|><|user|>\nHi<|end|>\n<|assistant|>\nHello<|end|>\n"));
        r = run({"chat-template", "--model", dir.filePath("m.gguf"), "--template-name", "short",
                 "--messages", dir.filePath("m.json"), "--eos", "E"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out, QByteArray("2E"));
    }

    // The reference conversation "reasoning-history" through Qwen3's template,
    // as Jinja2 renders it (expected.json).
    void reference() {
        RS_REQUIRE_REFERENCE();
        QTemporaryDir dir;
        write_file(
            dir.filePath("m.json"),
            R"([{"role": "user", "content": "Is 91 prime?"},)"
            R"({"role": "assistant", "content": "No: 91 = 7 \u00d7 13.", "reasoning_content": "Try 7: 7*13 = 91."},)"
            R"({"role": "user", "content": "Is 97 prime?"}])");
        auto r = run({"chat-template", "--template",
                      rs::test::reference("chat-templates/Qwen-Qwen3-0.6B.jinja"), "--messages",
                      dir.filePath("m.json"), "--add-generation-prompt", "--bos", "<BOS>", "--eos",
                      "<EOS>"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out,
                 QByteArray("<|im_start|>user\nIs 91 prime?<|im_end|>\n<|im_start|>assistant\n"
                            "No: 91 = 7 \xc3\x97 13.<|im_end|>\n<|im_start|>user\nIs 97 prime?"
                            "<|im_end|>\n<|im_start|>assistant\n"));
    }

    void errorsAreOneLine() {
        QTemporaryDir dir;
        write_file(dir.filePath("t.jinja"), kTemplate);
        write_file(dir.filePath("bad.jinja"), "line 1\n{% if x %}\nno end");
        write_file(dir.filePath("sys.json"), R"([{"role": "system", "content": "s"}])");
        write_file(dir.filePath("m.json"), kMessages);
        auto r = run({"chat-template", "--template", dir.filePath("t.jinja"), "--messages",
                      dir.filePath("sys.json")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("System role not supported"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        r = run({"chat-template", "--template", dir.filePath("bad.jinja"), "--messages",
                 dir.filePath("m.json")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("line 2"), r.err.constData());
        r = run({"chat-template", "--messages", dir.filePath("m.json")});  // no template
        QCOMPARE(r.code, 2);
        r = run({"chat-template", "--template", dir.filePath("t.jinja"), "--messages",
                 dir.filePath("t.jinja")});  // not JSON
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("not valid JSON"), r.err.constData());
    }
};

QTEST_APPLESS_MAIN(TestChatTemplateCli)
#include "tst_chat_template_cli.moc"
