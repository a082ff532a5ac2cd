#include "npy_format.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "kiln/runtime/error.h"

namespace kiln::npy {
namespace {

static_assert(std::endian::native == std::endian::little, "npy reading assumes a little-endian host");

constexpr std::array<uint8_t, 6> kMagic = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kAlign = 64;
constexpr size_t kGrowthDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS

struct DTypeCode {
  DType dtype;
  const char* code;  // kind and item size, as in the descr after the byte-order char
};
constexpr std::array<DTypeCode, 8> kCodes = {{
    {DType::kF32, "f4"},
    {DType::kF64, "f8"},
    {DType::kI64, "i8"},
    {DType::kI32, "i4"},
    {DType::kBool, "b1"},
    {DType::kU8, "u1"},
    {DType::kI8, "i1"},
    {DType::kF16, "f2"},
}};

std::string supported_descrs() {
  std::string out;
  for (const DTypeCode& c : kCodes) {
    if (!out.empty()) out += ", ";
    out += (c.code[1] == '1' ? "|" : "<");
    out += c.code;
  }
  return out;
}

// Shortens header text quoted in messages; a corrupt header may be a megabyte of garbage.
std::string quote(std::string_view text) {
  constexpr size_t kMax = 120;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (text.size() > kMax) out += "...";
  return out;
}

// A value of the header dict: the subset of Python literals np.save writes.
struct Literal {
  enum Kind { kString, kBool, kTuple, kInt, kOther } kind = kOther;
  std::string text;  // string value, or the source text of anything else
  bool flag = false;
  std::vector<int64_t> ints;
};

class DictParser {
 public:
  DictParser(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  std::vector<std::pair<std::string, Literal>> parse() {
    std::vector<std::pair<std::string, Literal>> entries;
    skip_space();
    expect('{');
    skip_space();
    while (!at('}')) {
      std::string key = parse_string("a quoted key");
      skip_space();
      expect(':');
      skip_space();
      Literal value = parse_value();
      entries.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (at('}')) break;
      if (!at(',')) fail("expected ',' or '}'");
      ++pos_;  // a trailing comma before '}' is valid Python and numpy writes one
      skip_space();
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after '}'");
    return entries;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    raise(ErrorCode::kInvalidArgument, "{}: malformed .npy header: {} at offset {} in \"{}\"", where_, what,
          pos_, quote(text_));
  }
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  void expect(char c) {
    if (!at(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::string parse_string(const char* what) {
    if (!at('\'') && !at('"')) fail(std::string("expected ") + what);
    const char quote_char = text_[pos_++];
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote_char) {
      // Escapes and line breaks never occur in what np.save writes; refuse rather than misread.
      if (text_[pos_] == '\\' || text_[pos_] == '\n') fail("unsupported character in string");
      ++pos_;
    }
    if (pos_ == text_.size()) fail("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  std::optional<int64_t> parse_int() {
    if (at('-')) fail("negative dimension");
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return std::nullopt;
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (__builtin_mul_overflow(value, int64_t{10}, &value) ||
          __builtin_add_overflow(value, int64_t{text_[pos_] - '0'}, &value)) {
        fail("dimension does not fit in 64 bits");
      }
      ++pos_;
    }
    if (at('L')) ++pos_;  // Python 2 longs, written by numpy under Python 2
    return value;
  }

  Literal parse_value() {
    Literal lit;
    const size_t start = pos_;
    if (at('\'') || at('"')) {
      lit.kind = Literal::kString;
      lit.text = parse_string("a string");
      return lit;
    }
    if (text_.substr(pos_, 4) == "True" || text_.substr(pos_, 5) == "False") {
      lit.kind = Literal::kBool;
      lit.flag = text_[pos_] == 'T';
      pos_ += lit.flag ? 4 : 5;
      return lit;
    }
    if (at('(')) {
      ++pos_;
      skip_space();
      bool had_comma = false;
      while (!at(')')) {
        std::optional<int64_t> v = parse_int();
        if (!v) fail("expected an integer dimension");
        lit.ints.push_back(*v);
        if (lit.ints.size() > kMaxRank) fail(fmt::format("more than {} dimensions", kMaxRank));
        skip_space();
        if (at(')')) break;
        expect(',');
        had_comma = true;
        skip_space();
      }
      ++pos_;
      // In Python "(3)" is the integer 3, not a tuple: a 1-tuple needs its comma, "(3,)".
      lit.kind = (lit.ints.size() == 1 && !had_comma) ? Literal::kInt : Literal::kTuple;
      lit.text = std::string(text_.substr(start, pos_ - start));
      return lit;
    }
    if (std::optional<int64_t> v = parse_int()) {
      lit.kind = Literal::kInt;
      lit.ints.push_back(*v);
      lit.text = std::string(text_.substr(start, pos_ - start));
      return lit;
    }
    if (at('[') || at('{')) {
      // Structured dtypes ('descr' as a list of fields) and nested dicts: skip to report them.
      int depth = 0;
      do {
        if (at('[') || at('{') || at('(')) ++depth;
        if (at(']') || at('}') || at(')')) --depth;
        ++pos_;
      } while (pos_ < text_.size() && depth > 0);
      if (depth != 0) fail("unbalanced brackets");
      lit.kind = Literal::kOther;
      lit.text = std::string(text_.substr(start, pos_ - start));
      return lit;
    }
    fail("expected a value");
  }

  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
};

void parse_descr(const Literal& lit, Header& header, const std::string& where) {
  if (lit.kind != Literal::kString) {
    if (lit.text.starts_with("[")) {
      raise(ErrorCode::kInvalidArgument, "{}: structured dtype {} is not supported (supported: {})", where,
            quote(lit.text), supported_descrs());
    }
    raise(ErrorCode::kInvalidArgument, "{}: malformed .npy header: 'descr' is {}, expected a string", where,
          quote(lit.text));
  }
  std::string_view descr = lit.text;
  char order = '=';
  if (!descr.empty() && std::string_view("<>|=").find(descr[0]) != std::string_view::npos) {
    order = descr[0];
    descr.remove_prefix(1);
  }
  for (const DTypeCode& c : kCodes) {
    if (descr != c.code) continue;
    const bool multi_byte = c.code[1] != '1';
    if (multi_byte && order == '|') {
      raise(ErrorCode::kInvalidArgument, "{}: dtype '{}' has no byte order", where, lit.text);
    }
    header.dtype = c.dtype;
    header.byte_swap = multi_byte && order == '>';
    return;
  }
  raise(ErrorCode::kInvalidArgument, "{}: unsupported dtype '{}' (supported: {})", where, quote(lit.text),
        supported_descrs());
}

}  // namespace

Header parse_header_dict(std::string_view text, const std::string& where) {
  Header header;
  bool seen_descr = false, seen_order = false, seen_shape = false;
  for (auto& [key, value] : DictParser(text, where).parse()) {
    bool* seen = key == "descr"           ? &seen_descr
                 : key == "fortran_order" ? &seen_order
                 : key == "shape"         ? &seen_shape
                                          : nullptr;
    if (seen == nullptr) {
      raise(ErrorCode::kInvalidArgument,
            "{}: .npy header has unknown key '{}' (expected descr, fortran_order, shape)", where, quote(key));
    }
    if (*seen) raise(ErrorCode::kInvalidArgument, "{}: .npy header has key '{}' twice", where, key);
    *seen = true;
    if (key == "descr") {
      parse_descr(value, header, where);
    } else if (key == "fortran_order") {
      if (value.kind != Literal::kBool) {
        raise(ErrorCode::kInvalidArgument,
              "{}: malformed .npy header: 'fortran_order' is {}, expected True or False", where,
              quote(value.text));
      }
      if (value.flag) {
        raise(ErrorCode::kInvalidArgument,
              "{}: Fortran-order (column-major) arrays are not supported; save a C-order array "
              "(np.ascontiguousarray)",
              where);
      }
    } else {
      if (value.kind != Literal::kTuple) {
        raise(ErrorCode::kInvalidArgument,
              "{}: malformed .npy header: 'shape' is {}, expected a tuple such as (3,)", where,
              quote(value.text.empty() ? std::string("a string") : value.text));
      }
      header.shape = std::move(value.ints);
    }
  }
  if (!seen_descr || !seen_order || !seen_shape) {
    raise(ErrorCode::kInvalidArgument, "{}: .npy header lacks key '{}' in \"{}\"", where,
          !seen_descr   ? "descr"
          : !seen_order ? "fortran_order"
                        : "shape",
          quote(text));
  }
  try {
    checked_numel(header.shape);
  } catch (const Error& e) {
    raise(ErrorCode::kInvalidArgument, "{}: {}", where, e.what());
  }
  return header;
}

Header read_header(const ByteSource& source) {
  const std::string& where = source.where();
  std::array<uint8_t, 12> prelude{};
  const size_t have = static_cast<size_t>(std::min<uint64_t>(source.size(), prelude.size()));
  source.read(0, prelude.data(), have);
  if (have < 8 || !std::equal(kMagic.begin(), kMagic.end(), prelude.begin())) {
    raise(ErrorCode::kInvalidArgument, "{}: not a .npy file (bad magic; expected \\x93NUMPY)", where);
  }
  const uint8_t major = prelude[6], minor = prelude[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    raise(ErrorCode::kInvalidArgument, "{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)",
          where, major, minor);
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  if (have < 8 + length_bytes) {
    raise(ErrorCode::kInvalidArgument, "{}: truncated .npy header: file is {} bytes", where, source.size());
  }
  uint64_t header_len = 0;
  for (size_t i = 0; i < length_bytes; ++i) header_len |= uint64_t{prelude[8 + i]} << (8 * i);
  const uint64_t header_start = 8 + length_bytes;
  if (header_len > kMaxHeaderBytes) {
    raise(ErrorCode::kInvalidArgument, "{}: .npy header length {} exceeds the {} byte limit", where,
          header_len, kMaxHeaderBytes);
  }
  if (header_start + header_len > source.size()) {
    raise(ErrorCode::kInvalidArgument,
          "{}: truncated .npy header: it says {} bytes, the file has {} after the prelude", where, header_len,
          source.size() - header_start);
  }
  std::string text(static_cast<size_t>(header_len), '\0');
  source.read(header_start, text.data(), text.size());
  Header header = parse_header_dict(text, where);
  header.data_offset = header_start + header_len;
  return header;
}

Tensor read_array(const ByteSource& source) {
  const std::string& where = source.where();
  const Header header = read_header(source);
  const int64_t numel = checked_numel(header.shape);
  const size_t item = size_of(header.dtype);
  uint64_t need = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), uint64_t{item}, &need)) {
    raise(ErrorCode::kInvalidArgument, "{}: shape {} of {} is too large", where, to_string(header.shape),
          to_string(header.dtype));
  }
  const uint64_t have = source.size() - header.data_offset;
  // Checked before allocating, so a lying header costs nothing; longer data means a corrupt file
  // or a wrong header, and silently dropping the rest would hide that.
  if (have != need) {
    raise(ErrorCode::kInvalidArgument, "{}: data is {} bytes but shape {} of {} needs {} ({})", where, have,
          to_string(header.shape), to_string(header.dtype), need,
          have < need ? "file truncated" : "trailing bytes after the array");
  }
  Tensor tensor = Tensor::empty(header.shape, header.dtype);
  if (need == 0) return tensor;
  auto* bytes = static_cast<uint8_t*>(tensor.raw_data());
  source.read(header.data_offset, bytes, static_cast<size_t>(need));
  if (header.byte_swap) {
    for (size_t i = 0; i < need; i += item) std::reverse(bytes + i, bytes + i + item);
  }
  if (header.dtype == DType::kBool) {
    // numpy treats any nonzero byte as True; a C++ bool must hold exactly 0 or 1.
    for (size_t i = 0; i < need; ++i) bytes[i] = bytes[i] != 0;
  }
  return tensor;
}

std::string encode_header(DType dtype, const Dims& shape, const std::string& where) {
  const auto code =
      std::find_if(kCodes.begin(), kCodes.end(), [&](const DTypeCode& c) { return c.dtype == dtype; });
  if (dtype == DType::kUndefined) raise(ErrorCode::kInvalidArgument, "{}: tensor is undefined", where);
  if (code == kCodes.end()) {
    raise(ErrorCode::kUnsupported, "{}: dtype {} has no .npy equivalent (supported: {})", where,
          to_string(dtype), supported_descrs());
  }
  if (shape.size() > kMaxRank) {
    raise(ErrorCode::kInvalidArgument, "{}: rank {} exceeds {}", where, shape.size(), kMaxRank);
  }
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ',';
  std::string dict = fmt::format("{{'descr': '{}{}', 'fortran_order': False, 'shape': ({}), }}",
                                 code->code[1] == '1' ? '|' : '<', code->code, dims);
  // numpy leaves room for the first dim to grow in place (appending to a saved array).
  if (!shape.empty()) dict.append(kGrowthDigits - std::to_string(shape[0]).size(), ' ');
  // Spaces then '\n' up to a multiple of 64: numpy always adds at least one space.
  const size_t prelude = kMagic.size() + 2 + 2;
  const size_t header_len = dict.size() + 1;
  const size_t pad = kAlign - (prelude + header_len) % kAlign;
  const size_t total_len = header_len + pad;  // < 65536: rank <= 64 keeps the dict a few KiB
  std::string out(kMagic.begin(), kMagic.end());
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(total_len & 0xff);
  out += static_cast<char>(total_len >> 8);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

Tensor host_contiguous(const Tensor& tensor, const std::string& where) {
  if (!tensor.defined()) raise(ErrorCode::kInvalidArgument, "{}: tensor is undefined", where);
  if (tensor.device().is_host()) return tensor.contiguous();
  return tensor.to(Device::host());
}

}  // namespace kiln::npy
