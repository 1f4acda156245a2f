// Answers in free text and task suites from users' files: a table of
// realistic model outputs (reasoning models, instruct models, the bundled
// arithmetic model), normal forms, GSM8K and MATH style suites, bad suites.
#include <sys/stat.h>

#include <QtTest>
#include <fstream>
#include <string>

#include "reasonscope/answer.h"
#include "reasonscope/error.h"
#include "reasonscope/search.h"
#include "reasonscope/task.h"
#include "test_paths.h"

using namespace rs;

namespace {
std::string write_file(const QString& dir, const char* name, const std::string& text) {
    const std::string p = (dir + "/" + name).toStdString();
    std::ofstream(p, std::ios::binary) << text;
    return p;
}
}  // namespace

class TestAnswer : public QObject {
    Q_OBJECT
  private slots:
    void extractsFromRealisticOutputs_data() {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("finished");
        QTest::addColumn<QString>("expected");  // normal form; "" = none
        // R1-distill / Qwen3 style: boxed after thinking.
        QTest::newRow("boxed-after-reasoning") << "auto"
                                               << "So she earns 18 * 2 = 36 dollars per "
                                                  "day.\n\n**Final Answer**\n\\[\n\\boxed{36}\n\\]"
                                               << true << "36";
        QTest::newRow("boxed-nested-frac")
            << "boxed"
            << "Therefore $x = \\boxed{\\frac{3}{4}}$." << false << "0.75";
        QTest::newRow("boxed-last-wins")
            << "auto"
            << "First guess \\boxed{12}, but wait, actually \\boxed{14}." << false << "14";
        QTest::newRow("boxed-text-unit")
            << "auto"
            << "The answer is $\\boxed{18 \\text{ dollars}}$" << false << "18";
        QTest::newRow("boxed-unclosed") << "boxed"
                                        << "so \\boxed{\\frac{1}{2}" << false << "";
        QTest::newRow("boxed-interval") << "boxed"
                                        << "\\boxed{(-\\infty, 3]}" << false << "(-\\infty,3]";
        QTest::newRow("fbox") << "auto"
                              << "\\fbox{7}" << false << "7";
        QTest::newRow("boxed-space-digit") << "auto"
                                           << "hence \\boxed 5 is it" << false << "5";
        // "the answer is"
        QTest::newRow("answer-is-sentence")
            << "auto"
            << "Adding them up, the answer is 1,250. I hope this helps." << false << "1250";
        QTest::newRow("final-answer-is-bold") << "answer-is"
                                              << "The final answer is: **$42$**" << false << "42";
        QTest::newRow("answer-is-decimal") << "auto"
                                           << "So the answer is 3.50 dollars." << false << "3.5";
        QTest::newRow("answer-is-negative") << "auto"
                                            << "Thus the answer is -7." << false << "-7";
        QTest::newRow("answer-is-case") << "auto"
                                        << "THE ANSWER IS 12" << false << "12";
        // "Answer: X"
        QTest::newRow("answer-line-arith") << "auto"
                                           << "Answer: 109\n"
                                           << false << "109";
        QTest::newRow("answer-line-bold") << "auto"
                                          << "**Answer:** 2/4\n"
                                          << false << "0.5";
        QTest::newRow("answer-line-word") << "answer-line"
                                          << "Final Answer: Paris.\n"
                                          << false << "paris";
        QTest::newRow("answer-line-x-equals") << "auto"
                                              << "Answer: x = 4\n"
                                              << false << "4";
        QTest::newRow("answer-line-not-a-word") << "answer-line"
                                                << "I will reanswer: 5\n"
                                                << false << "";
        // The last number: only for a finished trace.
        QTest::newRow("last-number-finished")
            << "auto"
            << "She has 3 apples and buys 4 more, so 7 in all." << true << "7";
        QTest::newRow("last-number-unfinished")
            << "auto"
            << "She has 3 apples and buys 4 more, so 7 in all." << false << "";
        QTest::newRow("last-number-thousands")
            << "last-number"
            << "The total cost is $1,234,567." << true << "1234567";
        QTest::newRow("last-number-fraction") << "last-number"
                                              << "each gets 3/6" << true << "0.5";
        QTest::newRow("last-number-third") << "last-number"
                                           << "p = 2/6" << true << "1/3";
        QTest::newRow("last-number-word-digit") << "last-number"
                                                << "use H2O twice: 9 left" << true << "9";
        QTest::newRow("last-number-minus") << "last-number"
                                           << "temperature fell to -12" << true << "-12";
        QTest::newRow("last-number-subtraction") << "last-number"
                                                 << "so 10-3" << true << "3";
        QTest::newRow("last-number-none") << "last-number"
                                          << "no digits here" << true << "";
        QTest::newRow("regex") << "regex:Result=(\\d+)"
                               << "Result=5 then Result=6" << false << "6";
        // Other formats ignore what they do not look for.
        QTest::newRow("boxed-only-ignores-answer-is") << "boxed"
                                                      << "the answer is 3" << true << "";
    }
    void extractsFromRealisticOutputs() {
        QFETCH(QString, format);
        QFETCH(QString, text);
        QFETCH(bool, finished);
        QFETCH(QString, expected);
        AnswerRule rule;
        if (format.startsWith("regex:")) {
            rule.format = AnswerFormat::Regex;
            rule.pattern = format.mid(6).toStdString();
        } else
            rule.format = parse_answer_format(format.toStdString());
        auto a = find_answer(text.toStdString(), rule, finished);
        QCOMPARE(QString::fromStdString(a ? normalize_answer(*a) : std::string()), expected);
    }

    void normalFormsCompare_data() {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<bool>("equal");
        QTest::newRow("commas") << "1,000"
                                << "1000" << true;
        QTest::newRow("trailing-zeros") << "3.50"
                                        << "3.5" << true;
        QTest::newRow("plus-sign") << "+2"
                                   << "2" << true;
        QTest::newRow("integer-decimal") << "12.0"
                                         << "12" << true;
        QTest::newRow("frac-vs-decimal") << "\\frac{1}{2}"
                                         << "0.5" << true;
        QTest::newRow("dfrac-vs-slash") << "\\dfrac{6}{4}"
                                        << "3/2" << true;
        QTest::newRow("frac-short") << "\\frac12"
                                    << "1/2" << true;
        QTest::newRow("negative-frac") << "-\\frac{1}{3}"
                                       << "-1/3" << true;
        QTest::newRow("third-not-decimal") << "1/3"
                                           << "0.33" << false;
        QTest::newRow("dollars") << "$18"
                                 << "18" << true;
        QTest::newRow("math-dollars") << "$18$"
                                      << "18" << true;
        QTest::newRow("units") << "5 cm"
                               << "5" << true;
        QTest::newRow("percent") << "25\\%"
                                 << "25" << true;
        QTest::newRow("degrees") << "90^\\circ"
                                 << "90" << true;
        QTest::newRow("wrong") << "41"
                               << "42" << false;
        QTest::newRow("list-not-thousands") << "1,2"
                                            << "12" << false;
        QTest::newRow("text-case") << "Paris"
                                   << "paris" << true;
        QTest::newRow("choice") << "(B)"
                                << "B" << true;
        QTest::newRow("latex-spaces") << "\\sqrt{2} + 1"
                                      << "\\sqrt{2}+1" << true;
        QTest::newRow("left-right") << "\\left(1,2\\right)"
                                    << "(1,2)" << true;
        QTest::newRow("empty") << ""
                               << "" << false;
    }
    void normalFormsCompare() {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(bool, equal);
        QCOMPARE(answers_equal(a.toStdString(), b.toStdString()), equal);
    }

    void catastrophicPatternIsAClearError() {
        // (a+)+$ on "aaaa...b" backtracks exponentially with std::regex.
        const std::string text(40, 'a');
        try {
            (void)last_regex_match(text + "b", "(a+)+$");
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("match limit") != std::string::npos, e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, check_answer_pattern("(unclosed"));
    }

    void stepDelimiters() {
        QCOMPARE(parse_step_delimiters("line"), std::vector<std::string>{"\n"});
        QCOMPARE(parse_step_delimiters("paragraph"), std::vector<std::string>{"\n\n"});
        QCOMPARE(parse_step_delimiters("\\n\\n|Step |a\\|b"),
                 (std::vector<std::string>{"\n\n", "Step ", "a|b"}));
        QVERIFY_THROWS_EXCEPTION(Error, parse_step_delimiters("a||b"));
    }

    void gsm8kStyleSuite() {
        QTemporaryDir dir;
        const std::string p = write_file(
            dir.path(), "gsm.jsonl",
            "{\"question\": \"Tom has 3 boxes of 4 pens. How many pens?\", \"answer\": \"He has "
            "3*4=<<3*4=12>>12 pens.\\n#### 12\"}\n"
            "\n"
            "{\"question\": \"A shirt costs $1,200 ...\", \"answer\": \"#### 1,200\"}\n");
        auto tasks = load_suite(p);
        QCOMPARE(tasks.size(), size_t(2));
        QCOMPARE(QString::fromStdString(tasks[0].id), QString("1"));
        QCOMPARE(QString::fromStdString(tasks[0].answer), QString("12"));
        QCOMPARE(QString::fromStdString(tasks[1].answer), QString("1,200"));
        QVERIFY(answers_equal(tasks[1].answer, "1200"));
        QCOMPARE(int(tasks[0].answer_rule().format), int(AnswerFormat::Auto));
    }

    void mathStyleSuiteWithSettings() {
        QTemporaryDir dir;
        const std::string p = write_file(
            dir.path(), "math.jsonl",
            "{\"suite\": {\"name\": \"math\", \"fields\": {\"question\": \"problem\", \"answer\": "
            "\"solution\", \"id\": \"unique_id\"}, \"answer_format\": \"boxed\", \"steps\": "
            "\"paragraph\", \"chat\": true, \"system\": \"Be brief.\", \"prompt_template\": "
            "\"{question}\\nPut the final answer in \\\\boxed{}.\"}}\n"
            "{\"problem\": \"What is 1/2 + 1/4?\", \"solution\": \"We add: $\\\\frac{1}{2} + "
            "\\\\frac{1}{4} = \\\\boxed{\\\\frac{3}{4}}$.\", \"unique_id\": "
            "\"test/algebra/1.json\"}\n");
        auto tasks = load_suite(p);
        QCOMPARE(tasks.size(), size_t(1));
        const Task& t = tasks[0];
        QCOMPARE(QString::fromStdString(t.id), QString("test/algebra/1.json"));
        QCOMPARE(QString::fromStdString(t.answer), QString("\\frac{3}{4}"));
        QCOMPARE(QString::fromStdString(t.prompt),
                 QString("What is 1/2 + 1/4?\nPut the final answer in \\boxed{}."));
        QCOMPARE(int(t.answer_rule().format), int(AnswerFormat::Boxed));
        QCOMPARE(t.chat, 1);
        QCOMPARE(QString::fromStdString(t.system), QString("Be brief."));
        QCOMPARE(parse_step_delimiters(t.steps), std::vector<std::string>{"\n\n"});
        QVERIFY(answers_equal("0.75", t.answer));
        // A field mapping from the command line wins over the suite's.
        SuiteOptions o;
        o.id_field = "problem";
        QCOMPARE(QString::fromStdString(load_suite(p, o)[0].id), QString("What is 1/2 + 1/4?"));
    }

    void badSuitesSayWhatAndWhere_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("duplicate-id")
            << "{\"id\":\"a\",\"prompt\":\"x\"}\n{\"id\":\"a\",\"prompt\":\"y\"}\n"
            << ":2: bad task entry: duplicate task id 'a' (first on line 1)";
        QTest::newRow("no-question") << "{\"id\":\"a\",\"text\":\"x\"}\n"
                                     << ":1: bad task entry: no question field";
        QTest::newRow("bad-format") << "{\"suite\":{\"answer_format\":\"guess\"}}\n"
                                    << ":1: bad task entry: unknown answer format 'guess'";
        QTest::newRow("unknown-setting") << "{\"suite\":{\"chatt\":true}}\n"
                                         << "unknown suite setting 'chatt'";
        QTest::newRow("bad-pattern") << "{\"prompt\":\"x\",\"answer_pattern\":\"(a\"}\n"
                                     << "does not compile";
        QTest::newRow("empty") << "\n\n"
                               << ": no tasks";
        QTest::newRow("not-json") << "{\"prompt\": \n"
                                  << ":1: bad task entry";
    }
    void badSuitesSayWhatAndWhere() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const std::string p = write_file(dir.path(), "bad.jsonl", text.toStdString());
        try {
            (void)load_suite(p);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
            QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(p)), e.what());
        }
    }

    void specialFilesAreRefused() {
        try {
            (void)load_suite("/dev/zero");
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("regular file"), e.what());
        }
        QTemporaryDir dir;
        const std::string fifo = (dir.path() + "/fifo").toStdString();
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QVERIFY_THROWS_EXCEPTION(Error, load_suite(fifo));  // would block for ever when opened
    }

    void shippedSampleSuitesLoad() {
        for (const char* name : {"gsm8k-sample", "math-sample"}) {
            const std::string p =
                std::string(RS_SOURCE_DIR) + "/resources/tasks/" + name + ".jsonl";
            auto tasks = load_suite(p);
            QVERIFY2(tasks.size() >= 10, name);
            for (const Task& t : tasks) {
                QVERIFY2(!t.answer.empty(), t.id.c_str());
                // Each reference solution, given as a model's output, is
                // extracted and judged right.
                QVERIFY(!normalize_answer(t.answer).empty());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestAnswer)
#include "tst_answer.moc"
