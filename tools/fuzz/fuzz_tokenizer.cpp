// libFuzzer entry for the tokenizer on a real vocabulary (the bundled
// model's by default; FUZZ_VOCAB=FILE.gguf picks another, e.g. a reference
// ggml-vocab-*.gguf): any bytes must encode (with and without special-token
// parsing) and decode without a crash, every id must stay in the
// vocabulary, and the same bytes read as token ids must decode.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/tokenizer.h"

namespace {

struct Vocab {
    std::unique_ptr<rs::GgufFile> file;
    std::unique_ptr<rs::Tokenizer> tok;
    Vocab() {
        const char* env = std::getenv("FUZZ_VOCAB");
        const std::string path =
            env && *env ? env : RS_SOURCE_DIR "/resources/models/reasoner.gguf";
        try {
            file = rs::GgufFile::open(path);
            tok = rs::Tokenizer::from_gguf(*file);
        } catch (const rs::Error& e) {
            std::fprintf(stderr, "fuzz_tokenizer: %s\n", e.what());
            std::abort();
        }
    }
};

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Vocab v;
    const rs::Tokenizer& tok = *v.tok;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (int mode = 0; mode < 3; ++mode) {
        std::vector<rs::TokenId> ids;
        try {
            ids = tok.encode(text, mode == 1, mode == 2);
        } catch (const rs::Error&) {
            continue;  // a refusal must be an rs::Error
        }
        for (rs::TokenId id : ids) check(id >= 0 && id < tok.n_vocab(), "id outside the vocab");
        (void)tok.decode(ids, mode == 2);
    }
    // The bytes as token ids (in range) decode, special or not.
    std::vector<rs::TokenId> ids;
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t x;
        std::memcpy(&x, data + i, 4);
        ids.push_back(static_cast<rs::TokenId>(x % static_cast<uint32_t>(tok.n_vocab())));
    }
    (void)tok.decode(ids, false);
    (void)tok.decode(ids, true);
    return 0;
}
