// Benchmark (not a test): frame time of the tree view on a large synthetic
// run, fitted (level of detail) and at 1:1 while panning. Target: <= 16 ms
// per frame at 100k nodes. A frame paints the whole view (the canvas, its
// legend) and answers a hover (the node under the cursor, its tooltip text).
// Steps have distinct texts (none group) and carry MCTS visits, particle
// weights and pruning records, so the words on the nodes are drawn too.
// Usage: bench_tree_view [NODES] [PNG]   (offscreen)
//        bench_tree_view --open DB RUN       the time from opening a stored run
//                                            to its tree on screen (the store's
//                                            load, the views' load, a frame)
#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QPainter>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>

#include "models/run_model.h"
#include "reasonscope/run_store.h"
#include "widgets/tree_view.h"

namespace {

// A stored run opened as the app opens it: its outline (no tokens) read,
// loaded into the run model (the tree view lays it out), fitted and painted;
// then the whole run read and loaded in its place.
int open_stored(const char* db, int64_t id) {
    QElapsedTimer t;
    t.start();
    auto store = rs::RunStore::open_read_only(db);
    rs::views::RunModel model;
    rs::views::TreeView view(&model);
    view.resize(1400, 900);
    rs::StoredRun outline = store->load_outline(id);
    const int nodes = outline.tree.size();
    model.load(std::move(outline));
    view.fit();
    QImage img = view.grab().toImage();
    const double outline_ms = t.nsecsElapsed() / 1e6;
    rs::StoredRun run = store->load(id);
    const double read_ms = t.nsecsElapsed() / 1e6 - outline_ms;
    size_t tokens = 0;
    for (const rs::Node& n : run.tree.nodes()) tokens += n.tokens.size();
    model.load(std::move(run));
    img = view.grab().toImage();
    const double total_ms = t.nsecsElapsed() / 1e6;
    std::printf(
        "run %lld: %d nodes, %zu tokens  tree on screen after %.0f ms (outline)  whole run "
        "read in %.0f ms, on screen after %.0f ms (%dx%d)\n",
        static_cast<long long>(id), nodes, tokens, outline_ms, read_ms, total_ms, img.width(),
        img.height());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    if (argc > 3 && std::string(argv[1]) == "--open")
        return open_stored(argv[2], std::atoll(argv[3]));
    const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    rs::StoredRun run;
    run.run.prompt = "synthetic";
    std::mt19937 rng(7);
    run.tree.add(-1);
    std::vector<int> frontier = {0};
    while (run.tree.size() < n) {  // a search-like tree: a few children per node, some pruned
        std::vector<int> next;
        for (int p : frontier) {
            int k = 1 + static_cast<int>(rng() % 4);
            for (int i = 0; i < k && run.tree.size() < n; ++i) {
                int c = run.tree.add(p);
                rs::Node& nd = run.tree.at(c);
                nd.text = "step " + std::to_string(c);
                nd.status = rng() % 5 == 0 ? rs::NodeStatus::Pruned : rs::NodeStatus::Expanded;
                nd.visits = 1 + static_cast<int>(rng() % 50);
                nd.value_sum = nd.visits * static_cast<double>(rng() % 100) / 100.0;
                if (c % 3 == 0)
                    nd.scores["particle_weight"] = static_cast<double>(rng() % 100) / 100;
                if (nd.status == rs::NodeStatus::Pruned) nd.scores["pruned_rank"] = 1 + rng() % 8;
                rs::TokenRecord t;
                t.entropy = static_cast<float>(rng() % 100) / 40.0f;
                nd.tokens.push_back(t);
                next.push_back(c);
            }
        }
        frontier.swap(next);
        if (frontier.empty()) break;
    }
    rs::views::RunModel model;
    rs::views::TreeView view(&model);
    view.resize(1400, 900);
    QElapsedTimer t;
    t.start();
    model.load(run);
    const double layout_ms = t.nsecsElapsed() / 1e6;
    QImage img(view.viewport()->size(), QImage::Format_ARGB32_Premultiplied);
    // A frame is a real paint event of the viewport (exposed region = what is
    // on screen), as when the user pans or zooms.
    int hovered = 0;
    auto frame = [&]() {
        QElapsedTimer ft;
        ft.start();
        img = view.grab().toImage();
        // Hover a node on screen (the first of every 97th that is).
        for (int c = 0; c < model.tree().size(); c += 97) {
            const QPoint at = view.mapFromScene(view.node_pos(c));
            if (!view.viewport()->rect().contains(at)) continue;
            const int id = view.node_at(at);
            if (id >= 0) hovered += view.hover_text(id).isEmpty() ? 0 : 1;
            break;
        }
        return ft.nsecsElapsed() / 1e6;
    };
    view.fit();
    std::vector<double> fitted, panned;
    for (int i = 0; i < 10; ++i) fitted.push_back(frame());
    // The user zooms in (the view then keeps its zoom), to 1:1.
    const QPoint mid = view.viewport()->rect().center();
    QWheelEvent wheel(mid, mid, QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                      Qt::NoScrollPhase, false);
    QApplication::sendEvent(view.viewport(), &wheel);
    view.resetTransform();
    for (int i = 0; i < 20; ++i) {
        view.horizontalScrollBar()->setValue(view.horizontalScrollBar()->maximum() * i / 20);
        panned.push_back(frame());
    }
    if (argc > 2) img.save(argv[2]);  // look at what was drawn
    std::sort(fitted.begin(), fitted.end());
    std::sort(panned.begin(), panned.end());
    std::printf(
        "nodes %d (drawn %d, hovers %d)  load+layout %.1f ms  frame fitted median %.1f ms (max "
        "%.1f)  frame 1:1 panning "
        "median %.1f ms (max %.1f)\n",
        model.tree().size(), view.shown_count(), hovered, layout_ms, fitted[fitted.size() / 2],
        fitted.back(), panned[panned.size() / 2], panned.back());
    return 0;
}
