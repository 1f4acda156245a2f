// GGUF files: a memory-mapped reader that validates every structural field
// before use, and a writer for tools and tests.
//
// Layout (v2/v3): magic "GGUF", u32 version, u64 tensor count, u64 kv count,
// kv pairs, tensor infos, padding to general.alignment, tensor data.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reasonscope/ggml_types.h"

namespace rs {

enum class GgufType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};
std::string_view gguf_type_name(GgufType t);

// One metadata value. Strings point into the mapped file (valid while the
// GgufFile lives); arrays hold their elements.
struct GgufValue {
    GgufType type = GgufType::U8;
    union {
        uint64_t u;
        int64_t i;
        double f;
    } num{};
    std::string_view str;
    GgufType elem_type = GgufType::U8;  // for arrays
    std::vector<GgufValue> items;       // for arrays

    bool is_integer() const;
    bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
    int64_t as_int() const;                             // any integer or bool type
    double as_double() const;                           // any numeric type
    std::string to_string(size_t max_items = 8) const;  // readable, arrays abridged
};

struct GgufTensor {
    std::string name;
    std::vector<int64_t> dims;  // ne[0] is the contiguous (row) dimension
    GgmlType type;
    uint64_t offset;  // relative to the data section
    uint64_t n_bytes;
    const uint8_t* data;  // into the mapping
    int64_t n_elements() const;
    int64_t rows() const { return n_elements() / dims.at(0); }
};

class MappedFile;

class GgufFile {
  public:
    // Throws rs::Error naming the field or tensor at fault.
    static std::unique_ptr<GgufFile> open(const std::string& path);
    // Parses an in-memory image (used by the fuzzer and tests); `bytes` must
    // outlive the returned object.
    static std::unique_ptr<GgufFile> parse(std::span<const uint8_t> bytes,
                                           const std::string& name = "<memory>");
    ~GgufFile();

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t file_size() const { return bytes_.size(); }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }

    const std::vector<std::string>& keys() const { return key_order_; }
    const GgufValue* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }
    // Typed getters: throw rs::Error if missing or of the wrong kind.
    std::string get_string(std::string_view key) const;
    int64_t get_int(std::string_view key) const;
    double get_float(std::string_view key) const;
    const GgufValue& get_array(std::string_view key) const;
    // With defaults for optional keys.
    std::string get_string(std::string_view key, std::string_view dflt) const;
    int64_t get_int(std::string_view key, int64_t dflt) const;
    double get_float(std::string_view key, double dflt) const;
    bool get_bool(std::string_view key, bool dflt) const;

    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* find_tensor(std::string_view name) const;

  private:
    GgufFile() = default;
    void parse_all();

    std::string path_;
    std::unique_ptr<MappedFile> map_;
    std::span<const uint8_t> bytes_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::string> key_order_;
    std::unordered_map<std::string, GgufValue> kv_;
    std::vector<GgufTensor> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

// Writes GGUF v3. Values are added in order; tensor data is copied at write().
class GgufWriter {
  public:
    void set_alignment(uint32_t a) { alignment_ = a; }
    void add_string(const std::string& key, const std::string& v);
    void add_u32(const std::string& key, uint32_t v);
    void add_i32(const std::string& key, int32_t v);
    void add_u64(const std::string& key, uint64_t v);
    void add_f32(const std::string& key, float v);
    void add_bool(const std::string& key, bool v);
    void add_string_array(const std::string& key, const std::vector<std::string>& v);
    void add_f32_array(const std::string& key, const std::vector<float>& v);
    void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
    // dims[0] is the contiguous dimension; data.size() must match type and dims.
    void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& dims,
                    std::vector<uint8_t> data);
    void write(const std::string& path) const;  // throws rs::Error on I/O failure
    std::vector<uint8_t> to_bytes() const;

  private:
    struct Tensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> dims;
        std::vector<uint8_t> data;
    };
    uint32_t alignment_ = 32;
    uint64_t n_kv_ = 0;
    std::vector<uint8_t> kv_bytes_;
    std::vector<Tensor> tensors_;
};

}  // namespace rs
