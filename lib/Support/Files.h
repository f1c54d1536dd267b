//===- Files.h - Reading files a user hands to Slim -------------*- C++ -*-===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
// What every tool and library of Slim does before it reads a file it was
// given (models, external data, compiled model folders): only regular files
// (a FIFO would block forever, /dev/zero never ends), and files a model
// refers to by a relative path must really lie in the model's directory
// (symbolic links resolved), so that a crafted model cannot make Slim read
// and embed another file of the machine. Header-only: it needs nothing but
// LLVM's support library, which all of Slim links.
//
//===----------------------------------------------------------------------===//

#ifndef SLIM_LIB_SUPPORT_FILES_H
#define SLIM_LIB_SUPPORT_FILES_H

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Signals.h"

#include <memory>
#include <string>

namespace mlir::slim {

/// Fails unless `path` names a regular file (after following links); the
/// message says what it is instead ("is a directory", "is not a regular
/// file (a FIFO, device or socket)") or why it cannot be inspected.
inline llvm::Error checkRegularFile(const llvm::Twine &path) {
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(path, status))
    return llvm::createStringError(ec, ec.message());
  switch (status.type()) {
  case llvm::sys::fs::file_type::regular_file:
    return llvm::Error::success();
  case llvm::sys::fs::file_type::directory_file:
    return llvm::createStringError("is a directory");
  default:
    return llvm::createStringError(
        "is not a regular file (a FIFO, device or socket)");
  }
}

/// Reads a regular file into memory (mapped where LLVM chooses to).
inline llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readRegularFile(const llvm::Twine &path) {
  if (llvm::Error e = checkRegularFile(path))
    return std::move(e);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(buffer.getError(),
                                   buffer.getError().message());
  return std::move(*buffer);
}

/// The real path of `relative` inside `directory`: an error if it does not
/// exist or cannot be resolved, or, with `outside` set, if it is absolute or
/// resolves (through `..` or symbolic links, of the file or of a directory on
/// the way) to a place outside the real path of `directory`.
inline llvm::Expected<std::string> resolveInside(llvm::StringRef directory,
                                                 llvm::StringRef relative,
                                                 bool &outside) {
  outside = true;
  if (llvm::sys::path::is_absolute(relative))
    return llvm::createStringError("is an absolute path");
  llvm::SmallString<256> lexical(relative);
  llvm::sys::path::remove_dots(lexical, /*remove_dot_dot=*/true);
  if (llvm::StringRef(lexical) == ".." ||
      llvm::StringRef(lexical).starts_with("../"))
    return llvm::createStringError("leads outside the model's directory");
  llvm::SmallString<256> base, full(directory.empty() ? "." : directory), real;
  outside = false;
  if (std::error_code ec = llvm::sys::fs::real_path(full, base))
    return llvm::createStringError(ec, "the directory: " + ec.message());
  llvm::sys::path::append(full, relative);
  if (std::error_code ec = llvm::sys::fs::real_path(full, real))
    return llvm::createStringError(ec, ec.message());
  outside = true;
  llvm::StringRef inside(real);
  bool baseIsRoot = llvm::sys::path::is_separator(base.back());
  if (!inside.consume_front(base) ||
      (!inside.empty() && !baseIsRoot &&
       !llvm::sys::path::is_separator(inside.front())))
    return llvm::createStringError("resolves to '" + std::string(real) +
                                   "', outside the model's directory");
  outside = false;
  return std::string(real);
}

/// Fails if `path` exists and is not a regular file: writers replace their
/// target by renaming a new file over it, which would turn a symbolic link,
/// FIFO or device node given as the target into a regular file.
inline llvm::Error checkReplaceable(const llvm::Twine &path) {
  llvm::sys::fs::file_status status;
  std::error_code ec = llvm::sys::fs::status(path, status, /*Follow=*/false);
  if (ec == std::errc::no_such_file_or_directory)
    return llvm::Error::success();
  if (ec)
    return llvm::createStringError(ec, ec.message());
  switch (status.type()) {
  case llvm::sys::fs::file_type::regular_file:
    return llvm::Error::success();
  case llvm::sys::fs::file_type::directory_file:
    return llvm::createStringError("is a directory");
  case llvm::sys::fs::file_type::symlink_file:
    return llvm::createStringError(
        "is a symbolic link, which writing would replace by a file (write "
        "to its target instead)");
  default:
    return llvm::createStringError(
        "is not a regular file (a FIFO, device or socket), which writing "
        "would replace");
  }
}

/// A new file next to `path` under a unique name (two runs never share
/// one), removed if the process is interrupted (SIGINT, SIGTERM: LLVM's
/// signal handlers) and by `discard`; `commit` renames it over `path`.
class TempOutput {
public:
  /// Checks that `path` may be replaced and creates the temporary file.
  static llvm::Expected<TempOutput> create(llvm::StringRef path) {
    if (llvm::Error e = checkReplaceable(path))
      return std::move(e);
    TempOutput out;
    out.target = path.str();
    llvm::SmallString<256> created;
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            path + ".%%%%%%%%.tmp", out.fd, created))
      return llvm::createStringError(ec, ec.message());
    out.temp = std::string(created);
    llvm::sys::RemoveFileOnSignal(out.temp);
    return std::move(out);
  }
  TempOutput(TempOutput &&other)
      : target(std::move(other.target)), temp(std::move(other.temp)),
        fd(other.fd) {
    other.temp.clear();
    other.fd = -1;
  }
  TempOutput(const TempOutput &) = delete;
  ~TempOutput() { discard(); }

  /// The temporary file's descriptor (owned: released by `takeFD`).
  int takeFD() {
    int result = fd;
    fd = -1;
    return result;
  }
  const std::string &getTempPath() const { return temp; }
  const std::string &getPath() const { return target; }

  /// Renames the temporary file to the target.
  llvm::Error commit() {
    closeFD();
    if (std::error_code ec = llvm::sys::fs::rename(temp, target)) {
      discard();
      return llvm::createStringError(ec, "cannot rename '" + temp + "' to '" +
                                             target + "': " + ec.message());
    }
    llvm::sys::DontRemoveFileOnSignal(temp);
    temp.clear();
    return llvm::Error::success();
  }
  /// Removes the temporary file (nothing of it stays behind).
  void discard() {
    closeFD();
    if (temp.empty())
      return;
    llvm::sys::fs::remove(temp);
    llvm::sys::DontRemoveFileOnSignal(temp);
    temp.clear();
  }

private:
  TempOutput() = default;
  void closeFD() {
    if (fd >= 0)
      llvm::sys::Process::SafelyCloseFileDescriptor(fd);
    fd = -1;
  }
  std::string target, temp;
  int fd = -1;
};

} // namespace mlir::slim

#endif // SLIM_LIB_SUPPORT_FILES_H
