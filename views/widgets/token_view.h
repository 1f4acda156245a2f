// The selected path's text, each token on a background coloured by the
// entropy of the distribution it was drawn from. Thinking tokens are italic
// on a faded band; tokens forced by the thinking budget are bold, violet and
// underlined. The prompt is shown as the model got it (the chat template's
// rendering when one was applied). Hovering a token shows its
// probability and the alternatives the model considered; clicking an
// alternative in that list asks for a counterfactual branch from there.
#pragma once

#include <QTextBrowser>
#include <vector>

#include "models/run_model.h"

namespace rs::views {

class TokenView : public QTextBrowser {
    Q_OBJECT
  public:
    explicit TokenView(RunModel* model, QWidget* parent = nullptr);
    // Tokens shown: the path's, or its last kMaxTokens of a longer one.
    static constexpr size_t kMaxTokens = 20000;
    int token_count() const { return static_cast<int>(spans_.size()); }
    QColor token_colour(int i) const;  // for tests
    QTextCharFormat token_format(int i) const;
    QString tooltip_for(int i) const;
    // Token `index` of `node` scrolled into view and marked (a click on the
    // signals plot); false when it is not shown.
    bool show_token(int node, int index);
    int marked_token() const { return marked_; }  // -1: none

  signals:
    // A token position (node, index within node) and the alternative chosen.
    // sample_like_run: continue with the run's sampling settings, not greedily.
    void branchRequested(int node, int token_index, int alternative_token, bool sample_like_run);
    // The logit lens of a token (its context menu): every layer's prediction of it.
    void lensRequested(int node, int token_index);

  public:
    // The text of the shown tokens before token i (after the prompt).
    QString text_before(int i) const;
    int token_at(const QPoint& viewport_pos) const;  // -1 if none

  protected:
    bool event(QEvent* e) override;
    void contextMenuEvent(QContextMenuEvent* e) override;

  private:
    void rebuild();
    struct Span {
        int begin, end;  // character range in the document
        int node, index;
    };
    RunModel* model_;
    std::vector<Span> spans_;
    int marked_ = -1;
};

}  // namespace rs::views
