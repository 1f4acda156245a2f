// libFuzzer entry: any byte string must parse or fail with rs::Error, never
// crash or read out of bounds. When it parses, the tokenizer is built too.
#include <cstddef>
#include <cstdint>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto f = rs::GgufFile::parse({data, size}, "fuzz");
        for (const auto& t : f->tensors()) {
            volatile uint8_t sink = t.n_bytes ? t.data[t.n_bytes - 1] : 0;
            (void)sink;
        }
        try {
            auto tok = rs::Tokenizer::from_gguf(*f);
            auto ids = tok->encode("Hello world 123 ü", true, true);
            (void)tok->decode(ids);
        } catch (const rs::Error&) {
        }
    } catch (const rs::Error&) {
    }
    return 0;
}
