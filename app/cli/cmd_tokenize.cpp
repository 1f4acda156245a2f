#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/regular_file.h"
#include "reasonscope/tokenizer.h"

namespace rs::cli {

int cmd_tokenize(const Argv& argv) {
    Args a("tokenize",
           "--model FILE (TEXT | --vocab-test FILE.inp) [--bos] [--special] [--pieces]");
    a.option("model", "GGUF file whose tokenizer to use")
        .option("vocab-test",
                "llama.cpp test input: strings separated by __ggml_vocab_test__ lines; "
                "prints one line of ids per string")
        .flag("bos", "add BOS/EOS as the model's metadata asks")
        .flag("special", "recognise control tokens written in the text")
        .flag("pieces", "print each id with its text")
        .positional("TEXT", "text to tokenize", false);
    if (!a.parse(argv)) return 0;
    if (!a.has("model")) throw UsageError{"tokenize: --model FILE is required"};
    auto f = GgufFile::open(a.get("model"));
    auto tok = Tokenizer::from_gguf(*f);
    bool bos = a.flag_set("bos"), special = a.flag_set("special");

    if (a.has("vocab-test")) {
        const std::string all =
            read_regular_file(a.get("vocab-test"), uint64_t{256} << 20, "vocabulary test");
        const std::string sep = "\n__ggml_vocab_test__\n";
        size_t pos = 0;
        std::string out;
        while (pos < all.size()) {
            size_t e = all.find(sep, pos);
            // Text after the last separator is one more string (gemma-4's
            // file lacks its final separator).
            if (e == std::string::npos) e = all.size();
            std::string s = all.substr(pos, e - pos);
            for (TokenId id : tok->encode(s, bos, special)) out += " " + std::to_string(id);
            out += "\n";
            pos = std::min(all.size(), e + sep.size());
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    }
    if (!a.has("TEXT")) throw UsageError{"tokenize: give TEXT or --vocab-test FILE"};
    auto ids = tok->encode(a.get("TEXT"), bos, special);
    if (a.flag_set("pieces")) {
        for (TokenId id : ids)
            std::printf("%6d  '%s'\n", id, tok->token_to_piece(id, true).c_str());
        return 0;
    }
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
    std::puts(line.c_str());
    return 0;
}

}  // namespace rs::cli
