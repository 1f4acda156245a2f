// reasonscope serve: the engine behind an OpenAI-compatible HTTP API
// (serve/server.h). SIGTERM or SIGINT stops it cleanly: requests in flight
// are answered 503 and the command exits 0.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session_args.h"
#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "serve/server.h"

namespace rs::cli {

int cmd_serve(const Argv& argv) {
    Args a("serve", "[--model FILE] [--port N] [--host ADDR] [--threads T]");
    a.option("model", "GGUF model (default: the bundled model)")
        .option("host", "address to listen on", "127.0.0.1")
        .option("port", "port to listen on (0: any free port, printed)", "8080")
        .option("threads", "compute threads (0 = all cores)", "0")
        .option("max-n", "the most choices (n) one request may ask for", "64");
    add_session_options(a, "f32");
    if (!a.parse(argv)) return 0;

    // Signals go to one thread that stops the server (every thread made from
    // here on, the engine's included, inherits the blocked mask).
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    serve::ServeOptions opt;
    opt.host = a.get("host");
    opt.port = a.get_int("port", 0, 65535);
    opt.max_choices = a.get_int("max-n", 1, 1024);
    opt.version = "reasonscope " + app::app_version();
    SessionOptions so = app::search_session_options(a.get_threads());
    apply_session_options(a, so);
    const std::string path = app::model_path_or_default(a.get("model"));
    auto model = Model::load(path);
    LocalGenerator gen(*model, so);
    opt.chat_template = model->gguf().get_string("tokenizer.chat_template", "");
    const Tokenizer& tok = model->tokenizer();
    if (tok.bos() >= 0) opt.bos_text = tok.token_to_piece(tok.bos(), true);
    if (tok.eos() >= 0) opt.eos_text = tok.token_to_piece(tok.eos(), true);
    serve::Server server(gen, opt);
    const int port = server.bind();
    std::printf("reasonscope serve: listening on http://%s:%d (model %s, %s, context %d)\n",
                opt.host.c_str(), port, gen.model_name().c_str(), gen.backend_name().c_str(),
                gen.n_ctx());
    std::fflush(stdout);

    std::atomic<bool> signalled{false};
    std::thread watcher([&] {
        int sig = 0;
        sigwait(&sigs, &sig);
        signalled = true;
        server.stop();
    });
    server.run();
    if (!signalled) {
        pthread_kill(watcher.native_handle(), SIGTERM);  // wake the watcher
    }
    watcher.join();
    std::puts("reasonscope serve: stopped");
    return 0;
}

}  // namespace rs::cli
