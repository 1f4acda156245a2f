// The node pane's on-demand probes, computed on the engine thread when asked
// for: the logit lens of a selected token (a layers x top-k table: each
// layer's most likely next tokens and their probabilities, shaded by
// probability, the token the run chose in bold), and the answer entropy
// after each step of the selected trace (a curve, with the first answer
// token's entropy dashed and the most common answer at each point).
#pragma once

#include <QString>
#include <QWidget>
#include <vector>

#include "reasonscope/logit_lens.h"

class QLabel;
class QPushButton;
class QTableWidget;

namespace rs::views {

// The answer entropy of a trace, one point per step.
struct AnswerEntropyCurve {
    QString title;
    double max_entropy = 1;  // ln(samples): the y axis's top
    std::vector<double> entropy, first_token;
    std::vector<QString> top_answer;  // "" = no answer stated
    std::vector<double> top_prob;
};

class AnswerEntropyPlot : public QWidget {
    Q_OBJECT
  public:
    explicit AnswerEntropyPlot(QWidget* parent = nullptr);
    QSize sizeHint() const override { return {420, 170}; }
    void set_curve(const AnswerEntropyCurve& c);
    const AnswerEntropyCurve& curve() const { return curve_; }

  protected:
    void paintEvent(QPaintEvent*) override;

  private:
    AnswerEntropyCurve curve_;
};

class ProbeView : public QWidget {
    Q_OBJECT
  public:
    explicit ProbeView(QWidget* parent = nullptr);

    // A lens result; title says where (node, token, its text).
    void show_lens(const LogitLens& lens, const QString& title);
    void show_answer_entropy(const AnswerEntropyCurve& c);
    // A message instead of a result (computing..., why it failed).
    void show_lens_message(const QString& text);
    void show_entropy_message(const QString& text);
    // Whether the engine can compute them now (a local model that is the run's).
    void set_available(bool ok, const QString& why_not = {});

    QTableWidget* lens_table() const { return table_; }
    AnswerEntropyPlot* entropy_plot() const { return plot_; }
    QPushButton* entropy_button() const { return entropy_button_; }

  signals:
    void answerEntropyRequested();

  private:
    QLabel* lens_title_ = nullptr;
    QTableWidget* table_ = nullptr;
    QLabel* entropy_title_ = nullptr;
    QPushButton* entropy_button_ = nullptr;
    AnswerEntropyPlot* plot_ = nullptr;
};

}  // namespace rs::views
