#include "widgets/token_view.h"

#include <QContextMenuEvent>
#include <QHelpEvent>
#include <QLocale>
#include <QMenu>
#include <QPen>
#include <QTextBlock>
#include <QTextCursor>
#include <QToolTip>
#include <cmath>

#include "widgets/colours.h"
#include "widgets/theme.h"

namespace rs::views {

TokenView::TokenView(RunModel* model, QWidget* parent) : QTextBrowser(parent), model_(model) {
    setObjectName("tokenView");
    setReadOnly(true);
    setOpenLinks(false);
    QFont f("monospace");
    f.setStyleHint(QFont::Monospace);
    setFont(f);
    connect(model_, &RunModel::selectionChanged, this, &TokenView::rebuild);
    connect(model_, &RunModel::changed, this, [this] {
        if (model_->live()) rebuild();
    });
}

void TokenView::rebuild() {
    spans_.clear();
    marked_ = -1;
    setExtraSelections({});
    clear();
    auto path = model_->selected_path();
    if (path.empty()) return;
    QTextCursor c(document());
    QTextCharFormat plain;
    const RunRow& info = model_->info();
    if (!info.prompt_rendered.empty()) {  // what the model got: the chat template's output
        // Dimmed from the palette's text, so it reads on a dark theme too.
        plain.setForeground(
            faded(palette().color(QPalette::Text), palette().color(QPalette::Base), 0.35));
        plain.setToolTip("the prompt as the chat template rendered it");
    }
    // One edit: the document is laid out once, not after every token.
    c.beginEditBlock();
    c.insertText(
        QString::fromStdString(info.prompt_rendered.empty() ? info.prompt : info.prompt_rendered),
        plain);
    // A very long trace shows its last kMaxTokens tokens (the selected
    // step's end is what was asked for), saying how many come before.
    size_t total = 0;
    for (int id : path) total += model_->tree().at(id).tokens.size();
    size_t skip = total > kMaxTokens ? total - kMaxTokens : 0;
    if (skip > 0) {
        QTextCharFormat note = plain;
        note.setFontItalic(true);
        note.setForeground(
            faded(palette().color(QPalette::Text), palette().color(QPalette::Base), 0.45));
        c.insertText(QString("\n[… %1 earlier tokens of this trace not shown: it has %2]\n")
                         .arg(QLocale().toString(static_cast<qulonglong>(skip)),
                              QLocale().toString(static_cast<qulonglong>(total))),
                     note);
    }
    for (int id : path) {
        const Node& n = model_->tree().at(id);
        if (skip >= n.tokens.size()) {
            skip -= n.tokens.size();
            continue;
        }
        const size_t from = skip;
        skip = 0;
        for (size_t i = from; i < n.tokens.size(); ++i) {
            const auto& t = n.tokens[i];
            QTextCharFormat f;
            const QColor bg =
                t.thinking ? thinking_colour(entropy_colour(t.entropy)) : entropy_colour(t.entropy);
            f.setBackground(bg);
            // The text's colour is chosen for its background, never the
            // palette's (white on the light entropy colours in a dark theme).
            f.setForeground(contrast_text_colour(bg));
            if (t.thinking) {
                f.setFontItalic(true);
                f.setForeground(thinking_text_colour());
            }
            if (t.forced) {
                f.setFontWeight(QFont::Bold);
                f.setForeground(forced_colour());
                f.setUnderlineStyle(QTextCharFormat::DashUnderline);
                f.setUnderlineColor(forced_colour());
            }
            int begin = c.position();
            c.insertText(QString::fromStdString(t.piece), f);
            spans_.push_back({begin, c.position(), id, static_cast<int>(i)});
        }
    }
    c.endEditBlock();
}

bool TokenView::show_token(int node, int index) {
    for (size_t k = 0; k < spans_.size(); ++k) {
        const Span& sp = spans_[k];
        if (sp.node != node || sp.index != index) continue;
        QTextCursor c(document());
        c.setPosition(sp.begin);
        c.setPosition(sp.end, QTextCursor::KeepAnchor);
        QTextEdit::ExtraSelection mark;
        mark.cursor = c;
        mark.format.setProperty(QTextFormat::OutlinePen,
                                QPen(palette().color(QPalette::Highlight)));
        mark.format.setFontUnderline(true);
        mark.format.setUnderlineColor(palette().color(QPalette::Highlight));
        mark.format.setUnderlineStyle(QTextCharFormat::SingleUnderline);
        setExtraSelections({mark});
        setTextCursor(c);
        ensureCursorVisible();
        marked_ = static_cast<int>(k);
        return true;
    }
    return false;
}

QColor TokenView::token_colour(int i) const {
    if (i < 0 || i >= token_count()) return {};
    QTextCursor c(document());
    c.setPosition(spans_[static_cast<size_t>(i)].begin + 1);
    return c.charFormat().background().color();
}

QTextCharFormat TokenView::token_format(int i) const {
    if (i < 0 || i >= token_count()) return {};
    QTextCursor c(document());
    c.setPosition(spans_[static_cast<size_t>(i)].begin + 1);
    return c.charFormat();
}

QString TokenView::tooltip_for(int i) const {
    if (i < 0 || i >= token_count()) return {};
    const Span& s = spans_[static_cast<size_t>(i)];
    const auto& t = model_->tree().at(s.node).tokens[static_cast<size_t>(s.index)];
    QStringList marks;
    if (t.thinking) marks << "thinking";
    if (t.forced) {
        // In the first node of a counterfactual branch grafted onto its
        // parent's tree (app/core/counterfactual.h), the first forced token
        // is where the branch departs.
        const Node& n = model_->tree().at(s.node);
        const auto cf = n.scores.find(kCounterfactualRunScore);
        bool departure = cf != n.scores.end() && n.parent >= 0 &&
                         !model_->tree().at(n.parent).scores.count(kCounterfactualRunScore);
        for (int k = 0; departure && k < s.index; ++k)
            departure = !n.tokens[static_cast<size_t>(k)].forced;
        marks << (departure ? QString("forced: counterfactual run %1 departs here, in place of "
                                      "the sampled token")
                                  .arg(static_cast<qint64>(cf->second))
                            : QString("forced by the thinking budget"));
    }
    QString tip = marks.isEmpty() ? QString() : "<i>" + marks.join(" — ") + "</i><br>";
    tip += QString("<b>%1</b> p=%2 &nbsp; entropy %3 &nbsp; varentropy %4<br>alternatives:")
               .arg(QString::fromStdString(t.piece).toHtmlEscaped(),
                    QString::number(std::exp(t.logprob), 'f', 3),
                    QString::number(t.entropy, 'f', 3), QString::number(t.varentropy, 'f', 3));
    for (size_t k = 0; k < t.top.size(); ++k) {
        QString piece = k < t.top_pieces.size() ? QString::fromStdString(t.top_pieces[k])
                                                : QString::number(t.top[k].first);
        tip += QString("<br>&nbsp;&nbsp;'%1' &nbsp; %2")
                   .arg(piece.toHtmlEscaped(), QString::number(std::exp(t.top[k].second), 'f', 3));
    }
    return tip;
}

int TokenView::token_at(const QPoint& p) const {
    int pos = cursorForPosition(p).position();
    for (size_t i = 0; i < spans_.size(); ++i)
        if (pos >= spans_[i].begin && pos < spans_[i].end) return static_cast<int>(i);
    return -1;
}

QString TokenView::text_before(int i) const {
    if (i < 0 || i >= token_count()) return {};
    QString s;
    for (int k = 0; k < i; ++k) {
        const Span& sp = spans_[static_cast<size_t>(k)];
        s += QString::fromStdString(
            model_->tree().at(sp.node).tokens[static_cast<size_t>(sp.index)].piece);
    }
    return s;
}

// Right-click a token: its alternatives; choosing one asks for a
// counterfactual branch that continues from there with that token instead.
void TokenView::contextMenuEvent(QContextMenuEvent* e) {
    int i = token_at(e->pos());
    if (i < 0) {
        QTextBrowser::contextMenuEvent(e);
        return;
    }
    const Span& sp = spans_[static_cast<size_t>(i)];
    const auto& t = model_->tree().at(sp.node).tokens[static_cast<size_t>(sp.index)];
    QMenu menu(this);
    // Each alternative: greedy from there, or (submenu) sampled as the run was.
    menu.addSection("Branch from here (greedy) with…");
    QMenu* sampled = new QMenu("Branch sampling as the run did, with…", &menu);
    for (size_t k = 0; k < t.top.size(); ++k) {
        if (t.top[k].first == t.id) continue;
        QString piece = k < t.top_pieces.size() ? QString::fromStdString(t.top_pieces[k])
                                                : QString::number(t.top[k].first);
        const QString label =
            QString("'%1'  (p=%2)").arg(piece).arg(std::exp(t.top[k].second), 0, 'f', 3);
        const int alt = t.top[k].first;
        connect(menu.addAction(label), &QAction::triggered, this,
                [this, sp, alt] { emit branchRequested(sp.node, sp.index, alt, false); });
        connect(sampled->addAction(label), &QAction::triggered, this,
                [this, sp, alt] { emit branchRequested(sp.node, sp.index, alt, true); });
    }
    if (menu.actions().size() <= 1)
        menu.addAction("(no alternatives recorded)")->setEnabled(false);
    else
        menu.addMenu(sampled);
    menu.addSeparator();
    connect(menu.addAction("Logit lens of this token"), &QAction::triggered, this,
            [this, sp] { emit lensRequested(sp.node, sp.index); });
    menu.exec(e->globalPos());
}

bool TokenView::event(QEvent* e) {
    // The prompt's dimmed colour comes from the palette: a theme change rebuilds.
    if (e->type() == QEvent::PaletteChange) {
        const bool r = QTextBrowser::event(e);
        rebuild();
        return r;
    }
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        int pos = cursorForPosition(viewport()->mapFromGlobal(he->globalPos())).position();
        for (size_t i = 0; i < spans_.size(); ++i)
            if (pos >= spans_[i].begin && pos < spans_[i].end) {
                QToolTip::showText(he->globalPos(), tooltip_for(static_cast<int>(i)), this);
                return true;
            }
        QToolTip::hideText();
        return true;
    }
    return QTextBrowser::event(e);
}

}  // namespace rs::views
