// GGUF reader. Every read goes through Cursor, which checks bounds and names
// the field being read, so a damaged file yields one precise message.
#include <cstring>
#include <limits>
#include <sstream>

#include "mapped_file.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"

namespace rs {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxDims = 4;
constexpr uint64_t kMaxStringLen = uint64_t{1} << 30;
constexpr int kMaxArrayDepth = 4;

class Cursor {
  public:
    Cursor(std::span<const uint8_t> b, const std::string& file) : b_(b), file_(file) {}
    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return b_.size() - pos_; }

    [[noreturn]] void fail(const std::string& what) const {
        std::ostringstream s;
        s << file_ << ": " << what << " (at byte " << pos_ << ")";
        throw Error(s.str());
    }
    void need(uint64_t n, const std::string& field) const {
        if (n > remaining()) {
            std::ostringstream s;
            s << "truncated file while reading " << field << ": need " << n << " bytes, "
              << remaining() << " left";
            fail(s.str());
        }
    }
    template <typename T>
    T read(const std::string& field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string_view read_string(const std::string& field) {
        uint64_t n = read<uint64_t>(field + " length");
        if (n > kMaxStringLen) fail(field + ": string length " + std::to_string(n) + " is absurd");
        need(n, field);
        std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), n);
        pos_ += n;
        return s;
    }

  private:
    std::span<const uint8_t> b_;
    const std::string& file_;
    uint64_t pos_ = 0;
};

// Smallest encoded size of one value of a type (for sanity-checking counts).
uint64_t min_encoded_size(GgufType t) {
    switch (t) {
        case GgufType::U8:
        case GgufType::I8:
        case GgufType::Bool:
            return 1;
        case GgufType::U16:
        case GgufType::I16:
            return 2;
        case GgufType::U32:
        case GgufType::I32:
        case GgufType::F32:
            return 4;
        case GgufType::U64:
        case GgufType::I64:
        case GgufType::F64:
        case GgufType::String:
            return 8;
        case GgufType::Array:
            return 12;
    }
    return 1;
}

bool valid_value_type(uint32_t t) {
    return t <= 12;
}

GgufValue read_value(Cursor& c, GgufType type, const std::string& field, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
        case GgufType::U8:
            v.num.u = c.read<uint8_t>(field);
            break;
        case GgufType::I8:
            v.num.i = c.read<int8_t>(field);
            break;
        case GgufType::U16:
            v.num.u = c.read<uint16_t>(field);
            break;
        case GgufType::I16:
            v.num.i = c.read<int16_t>(field);
            break;
        case GgufType::U32:
            v.num.u = c.read<uint32_t>(field);
            break;
        case GgufType::I32:
            v.num.i = c.read<int32_t>(field);
            break;
        case GgufType::U64:
            v.num.u = c.read<uint64_t>(field);
            break;
        case GgufType::I64:
            v.num.i = c.read<int64_t>(field);
            break;
        case GgufType::F32:
            v.num.f = c.read<float>(field);
            break;
        case GgufType::F64:
            v.num.f = c.read<double>(field);
            break;
        case GgufType::Bool: {
            uint8_t b = c.read<uint8_t>(field);
            if (b > 1) c.fail(field + ": bool value " + std::to_string(b) + " is not 0 or 1");
            v.num.u = b;
            break;
        }
        case GgufType::String:
            v.str = c.read_string(field);
            break;
        case GgufType::Array: {
            if (depth >= kMaxArrayDepth) c.fail(field + ": arrays nested too deeply");
            uint32_t et = c.read<uint32_t>(field + " element type");
            if (!valid_value_type(et))
                c.fail(field + ": unknown array element type " + std::to_string(et));
            v.elem_type = static_cast<GgufType>(et);
            uint64_t n = c.read<uint64_t>(field + " element count");
            if (n > c.remaining() / min_encoded_size(v.elem_type))
                c.fail(field + ": array count " + std::to_string(n) + " exceeds the file size");
            v.items.reserve(n);
            for (uint64_t i = 0; i < n; ++i)
                v.items.push_back(read_value(c, v.elem_type, field, depth + 1));
            break;
        }
    }
    return v;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
    static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    auto i = static_cast<uint32_t>(t);
    return i <= 12 ? names[i] : "?";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::U8:
        case GgufType::I8:
        case GgufType::U16:
        case GgufType::I16:
        case GgufType::U32:
        case GgufType::I32:
        case GgufType::U64:
        case GgufType::I64:
        case GgufType::Bool:
            return true;
        default:
            return false;
    }
}

int64_t GgufValue::as_int() const {
    switch (type) {
        case GgufType::U8:
        case GgufType::U16:
        case GgufType::U32:
        case GgufType::U64:
        case GgufType::Bool:
            return static_cast<int64_t>(num.u);
        case GgufType::I8:
        case GgufType::I16:
        case GgufType::I32:
        case GgufType::I64:
            return num.i;
        default:
            throw Error("value of type " + std::string(gguf_type_name(type)) +
                        " is not an integer");
    }
}

double GgufValue::as_double() const {
    if (is_float()) return num.f;
    return static_cast<double>(as_int());
}

std::string GgufValue::to_string(size_t max_items) const {
    std::ostringstream s;
    switch (type) {
        case GgufType::String:
            s << '"' << str << '"';
            break;
        case GgufType::F32:
        case GgufType::F64:
            s << num.f;
            break;
        case GgufType::Bool:
            s << (num.u ? "true" : "false");
            break;
        case GgufType::Array: {
            s << "[" << gguf_type_name(elem_type) << " x " << items.size() << "]";
            if (!items.empty()) {
                s << " ";
                for (size_t i = 0; i < items.size() && i < max_items; ++i)
                    s << (i ? ", " : "") << items[i].to_string(0);
                if (items.size() > max_items) s << ", ...";
            }
            break;
        }
        default:
            s << as_int();
            break;
    }
    return s.str();
}

int64_t GgufTensor::n_elements() const {
    int64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
}

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
    std::unique_ptr<GgufFile> f(new GgufFile());
    f->path_ = path;
    f->map_ = std::make_unique<MappedFile>(path);
    f->bytes_ = f->map_->bytes();
    f->parse_all();
    return f;
}

std::unique_ptr<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, const std::string& name) {
    std::unique_ptr<GgufFile> f(new GgufFile());
    f->path_ = name;
    f->bytes_ = bytes;
    f->parse_all();
    return f;
}

void GgufFile::parse_all() {
    Cursor c(bytes_, path_);
    uint32_t magic = c.read<uint32_t>("magic");
    if (magic != kMagic) c.fail("not a GGUF file (bad magic)");
    version_ = c.read<uint32_t>("version");
    if (version_ == 1) c.fail("GGUF version 1 is not supported (convert the file to v3)");
    if (version_ != 2 && version_ != 3)
        c.fail("unsupported GGUF version " + std::to_string(version_));
    uint64_t n_tensors = c.read<uint64_t>("tensor count");
    uint64_t n_kv = c.read<uint64_t>("metadata count");
    // A kv needs >= 8 (key length) + 4 (type) + 1 bytes; a tensor info >= 8+4+4+8.
    if (n_kv > c.remaining() / 13)
        c.fail("metadata count " + std::to_string(n_kv) + " exceeds the file size");
    if (n_tensors > c.remaining() / 24)
        c.fail("tensor count " + std::to_string(n_tensors) + " exceeds the file size");

    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string idx = "metadata #" + std::to_string(i);
        std::string key(c.read_string(idx + " key"));
        std::string field = "metadata '" + key + "'";
        uint32_t t = c.read<uint32_t>(field + " type");
        if (!valid_value_type(t)) c.fail(field + ": unknown value type " + std::to_string(t));
        GgufValue v = read_value(c, static_cast<GgufType>(t), field, 0);
        if (kv_.count(key)) c.fail("duplicate metadata key '" + key + "'");
        key_order_.push_back(key);
        kv_.emplace(std::move(key), std::move(v));
    }

    if (const GgufValue* a = find("general.alignment")) {
        if (!a->is_integer()) c.fail("general.alignment is not an integer");
        int64_t al = a->as_int();
        if (al <= 0 || (al & (al - 1)) != 0)
            c.fail("general.alignment " + std::to_string(al) + " is not a power of two");
        if (al > 65536)
            c.fail("general.alignment " + std::to_string(al) + " is too large (at most 65536)");
        alignment_ = static_cast<uint64_t>(al);
    }

    tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensor t;
        t.name = std::string(c.read_string("tensor #" + std::to_string(i) + " name"));
        std::string field = "tensor '" + t.name + "'";
        uint32_t nd = c.read<uint32_t>(field + " dimension count");
        if (nd == 0 || nd > kMaxDims)
            c.fail(field + ": dimension count " + std::to_string(nd) + " outside 1..4");
        int64_t n_el = 1;
        for (uint32_t d = 0; d < nd; ++d) {
            uint64_t ne = c.read<uint64_t>(field + " dimension");
            if (ne == 0 || ne > (uint64_t{1} << 40))
                c.fail(field + ": dimension " + std::to_string(d) + " has size " +
                       std::to_string(ne));
            if (n_el > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(ne))
                c.fail(field + ": element count overflows");
            n_el *= static_cast<int64_t>(ne);
            t.dims.push_back(static_cast<int64_t>(ne));
        }
        uint32_t type = c.read<uint32_t>(field + " type");
        auto ti = type_info(type);
        if (!ti) c.fail(field + ": unknown tensor type " + std::to_string(type));
        t.type = ti->type;
        if (t.dims[0] % ti->block_elems != 0)
            c.fail(field + ": row size " + std::to_string(t.dims[0]) +
                   " is not a multiple of the " + std::string(ti->name) + " block size " +
                   std::to_string(ti->block_elems));
        t.n_bytes =
            static_cast<uint64_t>(n_el / ti->block_elems) * static_cast<uint64_t>(ti->block_bytes);
        t.offset = c.read<uint64_t>(field + " offset");
        if (t.offset % alignment_ != 0)
            c.fail(field + ": data offset " + std::to_string(t.offset) + " is not aligned to " +
                   std::to_string(alignment_));
        if (tensor_index_.count(t.name)) c.fail("duplicate tensor name '" + t.name + "'");
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }

    uint64_t data = c.pos();
    data = (data + alignment_ - 1) / alignment_ * alignment_;
    data_offset_ = data;
    for (auto& t : tensors_) {
        if (data > bytes_.size() || t.offset > bytes_.size() - data ||
            t.n_bytes > bytes_.size() - data - t.offset) {
            std::ostringstream s;
            s << path_ << ": tensor '" << t.name << "' data (offset " << t.offset << ", "
              << t.n_bytes << " bytes) runs past the end of the file (" << bytes_.size()
              << " bytes)";
            throw Error(s.str());
        }
        t.data = bytes_.data() + data + t.offset;
    }
}

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = kv_.find(std::string(key));
    return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

static const GgufValue& must(const GgufFile& f, std::string_view key) {
    const GgufValue* v = f.find(key);
    if (!v) throw Error(f.path() + ": missing metadata '" + std::string(key) + "'");
    return *v;
}

std::string GgufFile::get_string(std::string_view key) const {
    const auto& v = must(*this, key);
    if (v.type != GgufType::String)
        throw Error(path_ + ": metadata '" + std::string(key) + "' is not a string");
    return std::string(v.str);
}

int64_t GgufFile::get_int(std::string_view key) const {
    const auto& v = must(*this, key);
    if (!v.is_integer())
        throw Error(path_ + ": metadata '" + std::string(key) + "' is not an integer");
    return v.as_int();
}

double GgufFile::get_float(std::string_view key) const {
    const auto& v = must(*this, key);
    if (!v.is_integer() && !v.is_float())
        throw Error(path_ + ": metadata '" + std::string(key) + "' is not a number");
    return v.as_double();
}

const GgufValue& GgufFile::get_array(std::string_view key) const {
    const auto& v = must(*this, key);
    if (v.type != GgufType::Array)
        throw Error(path_ + ": metadata '" + std::string(key) + "' is not an array");
    return v;
}

std::string GgufFile::get_string(std::string_view key, std::string_view dflt) const {
    return has(key) ? get_string(key) : std::string(dflt);
}
int64_t GgufFile::get_int(std::string_view key, int64_t dflt) const {
    return has(key) ? get_int(key) : dflt;
}
double GgufFile::get_float(std::string_view key, double dflt) const {
    return has(key) ? get_float(key) : dflt;
}
bool GgufFile::get_bool(std::string_view key, bool dflt) const {
    return has(key) ? get_int(key) != 0 : dflt;
}

}  // namespace rs
