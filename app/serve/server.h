// reasonscope serve: the engine behind an OpenAI-compatible HTTP API.
//
// One engine thread owns the generator. HTTP handler threads parse and check
// a request, queue it and wait for its reply; each engine step extends the
// live sequences of every request in flight in one batched extend() call
// (each request with its own sampling parameters), so requests join and
// leave between steps. The n choices of a request are forks of one prompt
// sequence. The engine core knows nothing of this module.
#pragma once

#include <memory>
#include <string>

#include "reasonscope/generator.h"

namespace rs::serve {

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0: any free port (bind() says which)
    int http_threads = 32;
    int max_choices = 64;  // the most choices (n) one request may ask for
    std::string model_id;  // the id /v1/models reports and replies carry
    std::string version;   // what /version and /v1/models report
    // The model's chat template (tokenizer.chat_template) and its BOS/EOS
    // text: /v1/chat/completions renders messages with it (empty: refused).
    std::string chat_template, bos_text, eos_text;
};

class Server {
  public:
    // The generator must outlive the server; only the engine thread uses it.
    Server(Generator& gen, ServeOptions opt);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listening socket; returns the port. Throws rs::Error.
    int bind();
    // Serves until stop(); returns when every handler has answered.
    void run();
    // From any thread (not from a signal handler): queued and running
    // requests are answered 503, then run() returns.
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rs::serve
