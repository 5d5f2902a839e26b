#include "brandcoach/store/sqlite/encrypted_vfs.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>

#include <fmt/format.h>

namespace brandcoach::store::sqlite {
namespace {

constexpr int64_t kHeaderBytes = 4096;
constexpr int64_t kUnitBytes = 4096;
constexpr std::string_view kMagic{"brandcoach-xts-1", 16};
constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};
constexpr size_t kSaltBytes = 32;
constexpr size_t kCheckBytes = 16;
// PBKDF2-HMAC-SHA256 work factor for passphrases (OWASP's 2023 figure); a raw 256-bit key needs none.
constexpr int kPassphraseIterations = 600000;

using Key = std::array<unsigned char, 32>;
using Salt = std::array<unsigned char, kSaltBytes>;
using Unit = std::array<unsigned char, kUnitBytes>;

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree>;

// A subkey for one purpose and one file: HMAC-SHA256(master, label || salt).
Key derive(const Key& master, std::string_view label, const Salt& salt) {
  std::array<unsigned char, 64 + kSaltBytes> message{};
  const size_t label_size = std::min(label.size(), size_t{64});
  std::memcpy(message.data(), label.data(), label_size);
  std::memcpy(message.data() + label_size, salt.data(), salt.size());
  Key out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), master.data(), static_cast<int>(master.size()), message.data(), label_size + salt.size(),
       out.data(), &size);
  return out;
}

std::array<unsigned char, kCheckBytes> key_check(const Key& master, const Salt& salt) {
  const Key full = derive(master, "key check", salt);
  std::array<unsigned char, kCheckBytes> check{};
  std::copy_n(full.begin(), kCheckBytes, check.begin());
  return check;
}

// Header layout: magic (16) | salt (32) | key check (16) | zeros up to 4 KiB.
struct Header {
  enum class Kind { blank, ours, foreign } kind = Kind::blank;
  Salt salt{};
  std::array<unsigned char, kCheckBytes> check{};
};

Header parse_header(const unsigned char* bytes) {
  Header header;
  if (std::all_of(bytes, bytes + kHeaderBytes, [](unsigned char b) { return b == 0; })) return header;
  if (std::memcmp(bytes, kMagic.data(), kMagic.size()) != 0) {
    header.kind = Header::Kind::foreign;
    return header;
  }
  header.kind = Header::Kind::ours;
  std::memcpy(header.salt.data(), bytes + kMagic.size(), kSaltBytes);
  std::memcpy(header.check.data(), bytes + kMagic.size() + kSaltBytes, kCheckBytes);
  return header;
}

std::array<unsigned char, kHeaderBytes> encode_header(const Key& master, const Salt& salt) {
  std::array<unsigned char, kHeaderBytes> bytes{};
  std::memcpy(bytes.data(), kMagic.data(), kMagic.size());
  std::memcpy(bytes.data() + kMagic.size(), salt.data(), kSaltBytes);
  const auto check = key_check(master, salt);
  std::memcpy(bytes.data() + kMagic.size() + kSaltBytes, check.data(), kCheckBytes);
  return bytes;
}

// AES-256-XTS per 4 KiB unit, the unit number as tweak. A unit shorter than one AES block (only the
// growing tail of a log or journal) cannot be XTS-encrypted; it uses AES-256-CTR under its own key
// until it grows.
class FileCipher {
 public:
  FileCipher(const Key& master, const Salt& salt)
      : encrypt_(EVP_CIPHER_CTX_new()), decrypt_(EVP_CIPHER_CTX_new()), tail_(EVP_CIPHER_CTX_new()) {
    std::array<unsigned char, 64> xts_key{};
    const Key data_key = derive(master, "xts data", salt);
    const Key tweak_key = derive(master, "xts tweak", salt);
    std::copy(data_key.begin(), data_key.end(), xts_key.begin());
    std::copy(tweak_key.begin(), tweak_key.end(), xts_key.begin() + 32);
    Key tail_key = derive(master, "short tail", salt);
    ready_ = encrypt_ && decrypt_ && tail_ &&
             EVP_EncryptInit_ex(encrypt_.get(), EVP_aes_256_xts(), nullptr, xts_key.data(), nullptr) == 1 &&
             EVP_DecryptInit_ex(decrypt_.get(), EVP_aes_256_xts(), nullptr, xts_key.data(), nullptr) == 1 &&
             EVP_EncryptInit_ex(tail_.get(), EVP_aes_256_ctr(), nullptr, tail_key.data(), nullptr) == 1;
    OPENSSL_cleanse(xts_key.data(), xts_key.size());
    OPENSSL_cleanse(tail_key.data(), tail_key.size());
  }

  bool ready() const { return ready_; }

  bool encrypt(const unsigned char* in, unsigned char* out, int64_t size, int64_t unit) {
    return apply(encrypt_.get(), in, out, size, unit);
  }

  // All-zero stored bytes are a hole (a file extended past units never written) and read as zeros,
  // as they would from a plain file; a real ciphertext is all zero with probability 2^-128 per block.
  bool decrypt(const unsigned char* in, unsigned char* out, int64_t size, int64_t unit) {
    if (std::all_of(in, in + size, [](unsigned char b) { return b == 0; })) {
      std::memset(out, 0, static_cast<size_t>(size));
      return true;
    }
    return apply(decrypt_.get(), in, out, size, unit);
  }

 private:
  bool apply(EVP_CIPHER_CTX* xts, const unsigned char* in, unsigned char* out, int64_t size, int64_t unit) {
    std::array<unsigned char, 16> tweak{};
    for (size_t i = 0; i < 8; ++i)
      tweak[i] = static_cast<unsigned char>(static_cast<uint64_t>(unit) >> (8 * i));
    EVP_CIPHER_CTX* context = xts;
    if (size < 16) {
      context = tail_.get();  // CTR: the same operation both ways
      tweak[15] = 0x80;
    }
    int written = 0;
    return EVP_CipherInit_ex(context, nullptr, nullptr, nullptr, tweak.data(), -1) == 1 &&
           EVP_CipherUpdate(context, out, &written, in, static_cast<int>(size)) == 1;
  }

  CipherContext encrypt_;
  CipherContext decrypt_;
  CipherContext tail_;
  bool ready_ = false;
};

// One open file: lives in the memory SQLite allocates for the file (szOsFile), after the
// sqlite3_file header and before the platform VFS's own file object.
struct FileState {
  sqlite3_file* real = nullptr;
  std::unique_ptr<FileCipher> cipher;
  Unit plain{};
  Unit sealed{};
};

struct EncryptedFile {
  sqlite3_file base;  // first: SQLite reads pMethods from here
  FileState* state;
};

constexpr size_t align16(size_t size) {
  return (size + 15) & ~size_t{15};
}
constexpr size_t kStateOffset = align16(sizeof(EncryptedFile));
constexpr size_t kRealOffset = kStateOffset + align16(sizeof(FileState));
static_assert(alignof(FileState) <= 8, "SQLite allocates file objects with 8-byte alignment");

FileState& state_of(sqlite3_file* file) {
  return *reinterpret_cast<EncryptedFile*>(file)->state;
}

int logical_size(FileState& state, int64_t& size) {
  sqlite3_int64 physical = 0;
  const int rc = state.real->pMethods->xFileSize(state.real, &physical);
  size = std::max<int64_t>(0, physical - kHeaderBytes);
  return rc;
}

int read_unit(FileState& state, int64_t unit, int64_t stored) {
  if (stored <= 0) return SQLITE_OK;
  const int rc = state.real->pMethods->xRead(state.real, state.sealed.data(), static_cast<int>(stored),
                                             kHeaderBytes + unit * kUnitBytes);
  if (rc != SQLITE_OK) return rc;
  return state.cipher->decrypt(state.sealed.data(), state.plain.data(), stored, unit) ? SQLITE_OK
                                                                                      : SQLITE_IOERR_READ;
}

int seal_unit(FileState& state, int64_t unit, int64_t size) {
  if (!state.cipher->encrypt(state.plain.data(), state.sealed.data(), size, unit)) return SQLITE_IOERR_WRITE;
  return state.real->pMethods->xWrite(state.real, state.sealed.data(), static_cast<int>(size),
                                      kHeaderBytes + unit * kUnitBytes);
}

// A partial last unit was encrypted for its length; before the file grows past it, it is
// re-encrypted at its new length (zero-filled), or its stored bytes would decrypt as garbage.
int grow_tail(FileState& state, int64_t size, int64_t new_size) {
  const int64_t tail = size / kUnitBytes;
  const int64_t stored = size % kUnitBytes;
  if (stored == 0 || new_size <= size) return SQLITE_OK;
  const int64_t grown = std::min(kUnitBytes, new_size - tail * kUnitBytes);
  if (const int rc = read_unit(state, tail, stored); rc != SQLITE_OK) return rc;
  std::memset(state.plain.data() + stored, 0, static_cast<size_t>(grown - stored));
  return seal_unit(state, tail, grown);
}

int encrypted_close(sqlite3_file* file) {
  auto* wrapper = reinterpret_cast<EncryptedFile*>(file);
  FileState* state = wrapper->state;
  const int rc = state->real->pMethods ? state->real->pMethods->xClose(state->real) : SQLITE_OK;
  std::destroy_at(state);
  wrapper->state = nullptr;
  return rc;
}

int encrypted_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  FileState& state = state_of(file);
  int64_t size = 0;
  if (const int rc = logical_size(state, size); rc != SQLITE_OK) return rc;
  auto* out = static_cast<unsigned char*>(buffer);
  const int64_t end = offset + amount;
  const int64_t readable_end = std::min(end, size);
  // A read that starts at or past the end reads nothing stored (not even from its last unit).
  for (int64_t unit = offset / kUnitBytes; offset < readable_end && unit * kUnitBytes < readable_end;
       ++unit) {
    const int64_t unit_start = unit * kUnitBytes;
    const int64_t stored = std::min(kUnitBytes, size - unit_start);
    if (const int rc = read_unit(state, unit, stored); rc != SQLITE_OK) return rc;
    const int64_t from = std::max<int64_t>(offset, unit_start);
    const int64_t to = std::min(readable_end, unit_start + stored);
    std::memcpy(out + (from - offset), state.plain.data() + (from - unit_start),
                static_cast<size_t>(to - from));
  }
  if (readable_end < end) {
    const int64_t filled = std::max<int64_t>(0, readable_end - offset);
    std::memset(out + filled, 0, static_cast<size_t>(amount - filled));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int encrypted_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  FileState& state = state_of(file);
  int64_t size = 0;
  if (const int rc = logical_size(state, size); rc != SQLITE_OK) return rc;
  const int64_t end = offset + amount;
  if (offset >= (size / kUnitBytes + 1) * kUnitBytes) {
    if (const int rc = grow_tail(state, size, offset); rc != SQLITE_OK) return rc;
  }
  const auto* in = static_cast<const unsigned char*>(buffer);
  for (int64_t unit = offset / kUnitBytes; unit * kUnitBytes < end; ++unit) {
    const int64_t unit_start = unit * kUnitBytes;
    const int64_t from = std::max<int64_t>(offset, unit_start) - unit_start;
    const int64_t to = std::min(end, unit_start + kUnitBytes) - unit_start;
    const int64_t stored = std::clamp<int64_t>(size - unit_start, 0, kUnitBytes);
    const unsigned char* source = in + (unit_start + from - offset);
    if (from > 0 || to < stored) {
      if (const int rc = read_unit(state, unit, stored); rc != SQLITE_OK) return rc;
      if (from > stored) std::memset(state.plain.data() + stored, 0, static_cast<size_t>(from - stored));
    }
    std::memcpy(state.plain.data() + from, source, static_cast<size_t>(to - from));
    if (const int rc = seal_unit(state, unit, std::max(stored, to)); rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

int encrypted_truncate(sqlite3_file* file, sqlite3_int64 new_size) {
  FileState& state = state_of(file);
  int64_t size = 0;
  if (const int rc = logical_size(state, size); rc != SQLITE_OK) return rc;
  if (new_size > size) {
    if (const int rc = grow_tail(state, size, new_size); rc != SQLITE_OK) return rc;
  } else if (new_size < size && new_size % kUnitBytes != 0) {
    const int64_t unit = new_size / kUnitBytes;
    if (const int rc = read_unit(state, unit, std::min(kUnitBytes, size - unit * kUnitBytes));
        rc != SQLITE_OK)
      return rc;
    if (const int rc = seal_unit(state, unit, new_size % kUnitBytes); rc != SQLITE_OK) return rc;
  }
  return state.real->pMethods->xTruncate(state.real, kHeaderBytes + new_size);
}

int encrypted_sync(sqlite3_file* file, int flags) {
  FileState& state = state_of(file);
  return state.real->pMethods->xSync(state.real, flags);
}

int encrypted_file_size(sqlite3_file* file, sqlite3_int64* size) {
  int64_t logical = 0;
  const int rc = logical_size(state_of(file), logical);
  *size = logical;
  return rc;
}

int encrypted_lock(sqlite3_file* file, int level) {
  FileState& state = state_of(file);
  return state.real->pMethods->xLock(state.real, level);
}

int encrypted_unlock(sqlite3_file* file, int level) {
  FileState& state = state_of(file);
  return state.real->pMethods->xUnlock(state.real, level);
}

int encrypted_check_reserved_lock(sqlite3_file* file, int* reserved) {
  FileState& state = state_of(file);
  return state.real->pMethods->xCheckReservedLock(state.real, reserved);
}

int encrypted_file_control(sqlite3_file* file, int op, void* argument) {
  // Size hints and chunked growth would extend the file behind the tail re-encryption above.
  if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE) return SQLITE_OK;
  FileState& state = state_of(file);
  return state.real->pMethods->xFileControl(state.real, op, argument);
}

int encrypted_sector_size(sqlite3_file* file) {
  FileState& state = state_of(file);
  return std::max(static_cast<int>(kUnitBytes), state.real->pMethods->xSectorSize(state.real));
}

// No powersafe overwrite and no atomic writes: rewriting a unit rewrites all of it.
int encrypted_device_characteristics(sqlite3_file* file) {
  FileState& state = state_of(file);
  return state.real->pMethods->xDeviceCharacteristics(state.real) & SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN;
}

int encrypted_shm_map(sqlite3_file* file, int region, int region_size, int extend, void volatile** memory) {
  FileState& state = state_of(file);
  return state.real->pMethods->xShmMap(state.real, region, region_size, extend, memory);
}

int encrypted_shm_lock(sqlite3_file* file, int offset, int count, int flags) {
  FileState& state = state_of(file);
  return state.real->pMethods->xShmLock(state.real, offset, count, flags);
}

void encrypted_shm_barrier(sqlite3_file* file) {
  FileState& state = state_of(file);
  state.real->pMethods->xShmBarrier(state.real);
}

int encrypted_shm_unmap(sqlite3_file* file, int delete_flag) {
  FileState& state = state_of(file);
  return state.real->pMethods->xShmUnmap(state.real, delete_flag);
}

// Version 2: no xFetch, so SQLite never maps the file into memory and reads ciphertext directly.
constexpr sqlite3_io_methods kIoMethods = {
    2,
    encrypted_close,
    encrypted_read,
    encrypted_write,
    encrypted_truncate,
    encrypted_sync,
    encrypted_file_size,
    encrypted_lock,
    encrypted_unlock,
    encrypted_check_reserved_lock,
    encrypted_file_control,
    encrypted_sector_size,
    encrypted_device_characteristics,
    encrypted_shm_map,
    encrypted_shm_lock,
    encrypted_shm_barrier,
    encrypted_shm_unmap,
    nullptr,
    nullptr,
};

bool is_hex_key(std::string_view key) {
  return key.size() == 64 && std::all_of(key.begin(), key.end(),
                                         [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Key derive_master(std::string_view key, const Salt& salt) {
  Key master{};
  if (is_hex_key(key)) {
    Key raw{};
    for (size_t i = 0; i < raw.size(); ++i)
      raw[i] = static_cast<unsigned char>(std::stoi(std::string(key.substr(2 * i, 2)), nullptr, 16));
    master = derive(raw, "master key", salt);
    OPENSSL_cleanse(raw.data(), raw.size());
    return master;
  }
  PKCS5_PBKDF2_HMAC(key.data(), static_cast<int>(key.size()), salt.data(), static_cast<int>(salt.size()),
                    kPassphraseIterations, EVP_sha256(), static_cast<int>(master.size()), master.data());
  return master;
}

}  // namespace

struct EncryptedVfs::State {
  std::string name;
  sqlite3_vfs* platform = nullptr;
  Key master{};
  Salt database_salt{};
  sqlite3_vfs vfs{};
  bool registered = false;

  ~State() {
    if (registered) sqlite3_vfs_unregister(&vfs);
    OPENSSL_cleanse(master.data(), master.size());
  }

  static State& of(sqlite3_vfs* vfs) { return *static_cast<State*>(vfs->pAppData); }
  static sqlite3_vfs* platform_of(sqlite3_vfs* vfs) { return of(vfs).platform; }

  // Reads the file's header, or writes one into a new file, and sets up its cipher.
  int attach(FileState& state, int flags) {
    const bool main_database = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    sqlite3_int64 physical = 0;
    if (const int rc = state.real->pMethods->xFileSize(state.real, &physical); rc != SQLITE_OK) return rc;
    std::array<unsigned char, kHeaderBytes> bytes{};
    Header header;
    if (physical >= kHeaderBytes) {
      if (const int rc = state.real->pMethods->xRead(state.real, bytes.data(), kHeaderBytes, 0);
          rc != SQLITE_OK)
        return rc;
      header = parse_header(bytes.data());
    }
    Salt salt = database_salt;
    if (header.kind == Header::Kind::ours) {
      if (header.check != key_check(master, header.salt)) return SQLITE_NOTADB;
      if (main_database && header.salt != database_salt) return SQLITE_NOTADB;
      salt = header.salt;
    } else if (header.kind == Header::Kind::foreign || (main_database && physical > 0)) {
      return SQLITE_NOTADB;
    } else {
      // A new file, or a log or journal whose header never reached the disk before a crash (so
      // nothing in it was ever synced): start it afresh.
      if (!main_database && RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) return SQLITE_IOERR;
      if (physical > 0) {
        if (const int rc = state.real->pMethods->xTruncate(state.real, 0); rc != SQLITE_OK) return rc;
      }
      bytes = encode_header(master, salt);
      if (const int rc = state.real->pMethods->xWrite(state.real, bytes.data(), kHeaderBytes, 0);
          rc != SQLITE_OK)
        return rc;
    }
    state.cipher = std::make_unique<FileCipher>(master, salt);
    return state.cipher->ready() ? SQLITE_OK : SQLITE_IOERR;
  }

  static int open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* wrapper = reinterpret_cast<EncryptedFile*>(file);
    wrapper->base.pMethods = nullptr;
    auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
    sqlite3_vfs* platform = platform_of(vfs);
    int rc = platform->xOpen(platform, name, real, flags, out_flags);
    if (rc != SQLITE_OK) {
      if (real->pMethods) real->pMethods->xClose(real);
      return rc;
    }
    auto* state =
        std::construct_at(reinterpret_cast<FileState*>(reinterpret_cast<char*>(file) + kStateOffset));
    state->real = real;
    wrapper->state = state;
    try {
      rc = of(vfs).attach(*state, flags);
    } catch (const std::bad_alloc&) {
      rc = SQLITE_NOMEM;
    }
    if (rc != SQLITE_OK) {
      real->pMethods->xClose(real);
      std::destroy_at(state);
      wrapper->state = nullptr;
      return rc;
    }
    wrapper->base.pMethods = &kIoMethods;
    return SQLITE_OK;
  }
};

EncryptedVfs::EncryptedVfs(std::unique_ptr<State> state) : state_(std::move(state)) {}
EncryptedVfs::~EncryptedVfs() = default;

const std::string& EncryptedVfs::name() const {
  return state_->name;
}

DatabaseFormat database_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return DatabaseFormat::missing;
  std::array<char, 16> magic{};
  in.read(magic.data(), magic.size());
  if (in.gcount() == 0) return DatabaseFormat::missing;
  const std::string_view head(magic.data(), static_cast<size_t>(in.gcount()));
  if (head == kSqliteMagic) return DatabaseFormat::plain;
  if (head == kMagic) return DatabaseFormat::encrypted;
  return DatabaseFormat::unknown;
}

Result<std::unique_ptr<EncryptedVfs>> EncryptedVfs::create(const std::string& database_path,
                                                           std::string_view key) {
  auto state = std::make_unique<State>();
  switch (database_format(database_path)) {
    case DatabaseFormat::plain:
      return Error::config(fmt::format("storage.encryption_key is set, but {} is a plain SQLite database "
                                       "(encrypt it with `brandcoach store encrypt`)",
                                       database_path),
                           "storage.encryption_key");
    case DatabaseFormat::unknown:
      return Error::config(
          fmt::format("{} is neither a SQLite database nor an encrypted brandcoach store", database_path),
          "storage.url");
    case DatabaseFormat::encrypted: {
      std::ifstream in(database_path, std::ios::binary);
      std::array<unsigned char, kHeaderBytes> bytes{};
      in.read(reinterpret_cast<char*>(bytes.data()), kHeaderBytes);
      const Header header = parse_header(bytes.data());
      state->database_salt = header.salt;
      state->master = derive_master(key, header.salt);
      if (header.check != key_check(state->master, header.salt)) {
        return Error::config(
            fmt::format("storage.encryption_key does not open {} (wrong key)", database_path),
            "storage.encryption_key");
      }
      break;
    }
    case DatabaseFormat::missing:
      if (RAND_bytes(state->database_salt.data(), static_cast<int>(kSaltBytes)) != 1)
        return Error::internal("no random bytes for the database salt");
      state->master = derive_master(key, state->database_salt);
      break;
  }
  std::array<unsigned char, 8> id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) return Error::internal("no random bytes");
  state->name = "brandcoach-xts-";
  for (unsigned char b : id) state->name += fmt::format("{:02x}", b);

  state->platform = sqlite3_vfs_find(nullptr);
  if (state->platform == nullptr) return Error::internal("SQLite has no default VFS");
  sqlite3_vfs& vfs = state->vfs;
  sqlite3_vfs& platform = *state->platform;
  vfs.iVersion = std::min(platform.iVersion, 3);
  vfs.szOsFile = static_cast<int>(kRealOffset) + platform.szOsFile;
  vfs.mxPathname = platform.mxPathname;
  vfs.zName = state->name.c_str();
  vfs.pAppData = state.get();
  vfs.xOpen = &State::open;
  vfs.xDelete = [](sqlite3_vfs* v, const char* name, int sync) {
    return State::platform_of(v)->xDelete(State::platform_of(v), name, sync);
  };
  vfs.xAccess = [](sqlite3_vfs* v, const char* name, int flags, int* result) {
    return State::platform_of(v)->xAccess(State::platform_of(v), name, flags, result);
  };
  vfs.xFullPathname = [](sqlite3_vfs* v, const char* name, int size, char* out) {
    return State::platform_of(v)->xFullPathname(State::platform_of(v), name, size, out);
  };
  vfs.xDlOpen = [](sqlite3_vfs* v, const char* name) {
    return State::platform_of(v)->xDlOpen(State::platform_of(v), name);
  };
  vfs.xDlError = [](sqlite3_vfs* v, int size, char* out) {
    State::platform_of(v)->xDlError(State::platform_of(v), size, out);
  };
  vfs.xDlSym = [](sqlite3_vfs* v, void* handle, const char* symbol) {
    return State::platform_of(v)->xDlSym(State::platform_of(v), handle, symbol);
  };
  vfs.xDlClose = [](sqlite3_vfs* v, void* handle) {
    State::platform_of(v)->xDlClose(State::platform_of(v), handle);
  };
  vfs.xRandomness = [](sqlite3_vfs* v, int size, char* out) {
    return State::platform_of(v)->xRandomness(State::platform_of(v), size, out);
  };
  vfs.xSleep = [](sqlite3_vfs* v, int micros) {
    return State::platform_of(v)->xSleep(State::platform_of(v), micros);
  };
  vfs.xCurrentTime = [](sqlite3_vfs* v, double* now) {
    return State::platform_of(v)->xCurrentTime(State::platform_of(v), now);
  };
  vfs.xGetLastError = [](sqlite3_vfs* v, int size, char* out) {
    return State::platform_of(v)->xGetLastError(State::platform_of(v), size, out);
  };
  vfs.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* now) {
    return State::platform_of(v)->xCurrentTimeInt64(State::platform_of(v), now);
  };
  vfs.xSetSystemCall = [](sqlite3_vfs* v, const char* name, sqlite3_syscall_ptr call) {
    return State::platform_of(v)->xSetSystemCall(State::platform_of(v), name, call);
  };
  vfs.xGetSystemCall = [](sqlite3_vfs* v, const char* name) {
    return State::platform_of(v)->xGetSystemCall(State::platform_of(v), name);
  };
  vfs.xNextSystemCall = [](sqlite3_vfs* v, const char* name) {
    return State::platform_of(v)->xNextSystemCall(State::platform_of(v), name);
  };
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK)
    return Error::internal("cannot register the encrypting VFS");
  state->registered = true;
  return std::make_unique<EncryptedVfs>(std::move(state));
}

}  // namespace brandcoach::store::sqlite
