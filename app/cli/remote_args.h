// --remote and its settings on `run` and `eval`: the search runs on an
// inference server instead of the local engine (app/remote/).
#pragma once

#include <memory>

#include "cli/args.h"
#include "reasonscope/generator.h"
#include "reasonscope/model.h"
#include "reasonscope/session.h"

namespace rs::cli {

void add_remote_options(Args& a);

// The model file and the generator a command searches with: the local
// engine on --model, or with --remote a server (--model then gives only the
// tokenizer and chat template: the GGUF of the model the server runs).
struct Engine {
    std::unique_ptr<Model> model;
    std::unique_ptr<Generator> gen;
};
Engine open_engine(const Args& a, const SessionOptions& so);

}  // namespace rs::cli
