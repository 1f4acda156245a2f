#include <cerrno>
#include <cstdio>
#include <cstring>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/regular_file.h"

namespace rs {
namespace {

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}
void put_str(std::vector<uint8_t>& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}
void put_key(std::vector<uint8_t>& out, const std::string& key, GgufType t) {
    put_str(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(t));
}

}  // namespace

void GgufWriter::add_string(const std::string& key, const std::string& v) {
    put_key(kv_bytes_, key, GgufType::String);
    put_str(kv_bytes_, v);
    ++n_kv_;
}
void GgufWriter::add_u32(const std::string& key, uint32_t v) {
    put_key(kv_bytes_, key, GgufType::U32);
    put(kv_bytes_, v);
    ++n_kv_;
}
void GgufWriter::add_i32(const std::string& key, int32_t v) {
    put_key(kv_bytes_, key, GgufType::I32);
    put(kv_bytes_, v);
    ++n_kv_;
}
void GgufWriter::add_u64(const std::string& key, uint64_t v) {
    put_key(kv_bytes_, key, GgufType::U64);
    put(kv_bytes_, v);
    ++n_kv_;
}
void GgufWriter::add_f32(const std::string& key, float v) {
    put_key(kv_bytes_, key, GgufType::F32);
    put(kv_bytes_, v);
    ++n_kv_;
}
void GgufWriter::add_bool(const std::string& key, bool v) {
    put_key(kv_bytes_, key, GgufType::Bool);
    put<uint8_t>(kv_bytes_, v ? 1 : 0);
    ++n_kv_;
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
    put_key(kv_bytes_, key, GgufType::Array);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::String));
    put<uint64_t>(kv_bytes_, v.size());
    for (const auto& s : v) put_str(kv_bytes_, s);
    ++n_kv_;
}
void GgufWriter::add_f32_array(const std::string& key, const std::vector<float>& v) {
    put_key(kv_bytes_, key, GgufType::Array);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::F32));
    put<uint64_t>(kv_bytes_, v.size());
    for (float x : v) put(kv_bytes_, x);
    ++n_kv_;
}
void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    put_key(kv_bytes_, key, GgufType::Array);
    put<uint32_t>(kv_bytes_, static_cast<uint32_t>(GgufType::I32));
    put<uint64_t>(kv_bytes_, v.size());
    for (int32_t x : v) put(kv_bytes_, x);
    ++n_kv_;
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type,
                            const std::vector<int64_t>& dims, std::vector<uint8_t> data) {
    auto ti = type_info(static_cast<uint32_t>(type));
    if (!ti) throw Error("gguf writer: tensor '" + name + "' has an unknown type");
    if (dims.empty() || dims.size() > 4)
        throw Error("gguf writer: tensor '" + name + "' needs 1..4 dims");
    int64_t n = 1;
    for (auto d : dims) n *= d;
    if (dims[0] % ti->block_elems != 0)
        throw Error("gguf writer: tensor '" + name + "' row is not a whole number of blocks");
    auto want = static_cast<size_t>(n / ti->block_elems * ti->block_bytes);
    if (data.size() != want)
        throw Error("gguf writer: tensor '" + name + "' has " + std::to_string(data.size()) +
                    " bytes, expected " + std::to_string(want));
    tensors_.push_back({name, type, dims, std::move(data)});
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
    std::vector<uint8_t> out;
    put<uint32_t>(out, 0x46554747);
    put<uint32_t>(out, 3);
    put<uint64_t>(out, tensors_.size());
    bool has_alignment_key = alignment_ != 32;
    put<uint64_t>(out, n_kv_ + (has_alignment_key ? 1 : 0));
    out.insert(out.end(), kv_bytes_.begin(), kv_bytes_.end());
    if (has_alignment_key) {
        put_key(out, "general.alignment", GgufType::U32);
        put<uint32_t>(out, alignment_);
    }
    auto align = [&](uint64_t x) { return (x + alignment_ - 1) / alignment_ * alignment_; };
    uint64_t off = 0;
    for (const auto& t : tensors_) {
        put_str(out, t.name);
        put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
        for (auto d : t.dims) put<uint64_t>(out, static_cast<uint64_t>(d));
        put<uint32_t>(out, static_cast<uint32_t>(t.type));
        put<uint64_t>(out, off);
        off = align(off + t.data.size());
    }
    out.resize(align(out.size()), 0);
    for (const auto& t : tensors_) {
        out.insert(out.end(), t.data.begin(), t.data.end());
        out.resize(align(out.size()), 0);
    }
    return out;
}

void GgufWriter::write(const std::string& path) const {
    // The finished file is renamed over `path`: never over a device (such as
    // /dev/full), a FIFO or a directory.
    check_replaceable(path, "GGUF file");
    auto bytes = to_bytes();
    std::string tmp = path + ".partial";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error(path + ": write failed: " + std::strerror(errno));
    }
}

}  // namespace rs
