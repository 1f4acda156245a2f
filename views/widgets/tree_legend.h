// The reasoning tree's marks (ring colours, badges) and the legend that
// explains them: the colour scale of the current colouring with its numbers,
// the shapes, and the strategy records written on the nodes when the run has
// them. The legend takes its background and text from the palette, so it
// reads in the light and the dark theme; the canvas and the legend draw the
// marks with the same functions.
#pragma once

#include <QColor>
#include <QString>
#include <QWidget>

class QPainter;

namespace rs::views {

// Mark colours; they read on the light and the dark base alike.
inline QColor correct_colour() {
    return QColor(26, 156, 58);
}
inline QColor wrong_colour() {
    return QColor(208, 48, 42);
}
inline QColor selected_colour() {
    return QColor(30, 110, 235);
}
inline QColor pruned_fill() {
    return QColor(200, 200, 200);
}
inline QColor group_badge_colour() {  // ×k: identical sibling steps drawn as one
    return QColor(74, 86, 110);
}
inline QColor counterfactual_colour() {  // the dashed edges of a grafted counterfactual branch
    return QColor(214, 110, 20);
}
inline QColor collapsed_badge_colour() {  // +n: nodes a collapsed subtree hides
    return QColor(232, 160, 40);
}

// A rounded badge whose left edge sits at `anchor` (device pixels, vertically
// centred there), filled with `fill` and lettered in the colour that reads on it.
void draw_badge(QPainter* p, QPointF anchor, const QString& text, const QColor& fill);

class TreeLegend : public QWidget {
    Q_OBJECT
  public:
    struct Content {
        bool by_score = false;
        QString score_key;  // "": the run has no scores (nodes keep entropy colours)
        double score_min = 0, score_max = 0;  // the key's range in the run
        // Strategy records present in the run (their lines are shown).
        bool mcts = false, particles = false, pruning = false;
        bool counterfactual = false;  // a counterfactual branch is grafted on
        bool operator==(const Content&) const = default;
    };
    explicit TreeLegend(QWidget* parent = nullptr);
    void set_content(const Content& c);
    const Content& content() const { return content_; }
    // The legend is a strip under the tree: its items flow into lines.
    int height_for_width(int w) const;
    QSize sizeHint() const override;
    // Where the colour scale is drawn, and the value at its right end (tests
    // read the gradient's pixels).
    QRect scale_rect() const;
    double scale_max() const {
        return content_.by_score && !content_.score_key.isEmpty() ? 1.0 : 2.5;
    }
    QString title() const;  // the colour scale's caption

  protected:
    void paintEvent(QPaintEvent* e) override;

  private:
    Content content_;
};

}  // namespace rs::views
