//===- slimc.cpp - Compile a model to a shared library --------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
//   slimc model.onnx|model.mlir[bc] [--target=cpu] [--pipeline=...] -o OUT_DIR
//
// writes OUT_DIR/model.so (code), OUT_DIR/model.weights (mapped at run time,
// never embedded in the code), OUT_DIR/model.json (the interface the runtime
// reads) and OUT_DIR/model.h (a C description of the entry point). Files are
// written under temporary names and renamed at the end, so a failed run
// leaves no partial model.
//
//===----------------------------------------------------------------------===//

#include "lib/Compression/CalibrationStats.h"
#include "lib/Export/OnnxExport.h"
#include "lib/Import/Onnx/DiagnosticPrinter.h"
#include "lib/Import/Onnx/OnnxImporter.h"
#include "lib/Support/Files.h"
#include "lib/Support/ModelFingerprint.h"
#include "lib/Support/Version.h"
#include "passes/Pipelines/Pipelines.h"
#include "passes/Transforms/LinearLayers.h"
#include "passes/Transforms/Passes.h"
#include "slim/InitAll.h"
#include "tools/slimc/SequentialCalibration.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

using namespace mlir;

static llvm::cl::OptionCategory category("slimc options");
static llvm::cl::opt<std::string>
    inputPath(llvm::cl::Positional, llvm::cl::desc("<model.onnx|model.mlir>"),
              llvm::cl::cat(category));
static llvm::cl::opt<std::string> outDir("o",
                                         llvm::cl::desc("Output directory"),
                                         llvm::cl::value_desc("dir"),
                                         llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    target("target",
           llvm::cl::desc("Target (only 'cpu' today; --target-cpu and "
                          "--target-features choose which CPUs)"),
           llvm::cl::init("cpu"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> pipelineOpt(
    "pipeline",
    llvm::cl::desc(
        "Options of the CPU pipeline, e.g. 'blas=false', or a "
        "complete textual pass pipeline starting with 'builtin.module('"),
    llvm::cl::init(""), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    printPipeline("print-pipeline",
                  llvm::cl::desc("Print the pass pipeline and exit"),
                  llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    bindDimsOpt("bind-dims",
                llvm::cl::desc("Fix symbolic input dimensions (ONNX input)"),
                llvm::cl::value_desc("name=size,..."), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    entryName("entry", llvm::cl::desc("Function to compile"),
              llvm::cl::init("main"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> supportLib(
    "support-lib",
    llvm::cl::desc(
        "Model support archive (default: ../lib/libSlimModelSupport.a "
        "next to slimc)"),
    llvm::cl::cat(category));
static llvm::cl::opt<unsigned> optLevel(
    "opt-level",
    llvm::cl::desc("LLVM optimization level of the generated code (0-3)"),
    llvm::cl::init(3), llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    optLevelShort("O", llvm::cl::Prefix,
                  llvm::cl::desc("-O0 to -O3: the same as --opt-level"),
                  llvm::cl::value_desc("level"), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    keepObject("keep-intermediates",
               llvm::cl::desc("Also write the object files (model.o, or "
                              "model.N.o per code-generation thread) and "
                              "model.ll (LLVM IR before optimization)"),
               llvm::cl::cat(category));

static llvm::cl::opt<std::string> quantizeOpt(
    "quantize",
    llvm::cl::desc("Quantize linear layers first, with these --slim-quantize "
                   "options, e.g. 'method=gptq bits=4 group-size=128 "
                   "stats=calib.stats report=report.json'"),
    llvm::cl::value_desc("options"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> pruneOpt(
    "prune",
    llvm::cl::desc("Prune linear layers first (before --quantize), with these "
                   "--slim-prune options, e.g. 'method=sparsegpt pattern=2:4 "
                   "bits=4 stats=calib.stats report=prune.json'"),
    llvm::cl::value_desc("options"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> factorizeOpt(
    "factorize",
    llvm::cl::desc("Factorize linear layers into low-rank factors first "
                   "(after --prune, before --quantize), with these "
                   "--slim-factorize options, e.g. 'method=svd-llm ratio=0.8 "
                   "stats=calib.stats report=factorize.json'"),
    llvm::cl::value_desc("options"), llvm::cl::cat(category));
static llvm::cl::opt<bool> calibration(
    "calibration",
    llvm::cl::desc("Instrument the linear layers (--slim-calibrate) so that "
                   "slim-run --calibrate can record calibration statistics"),
    llvm::cl::cat(category));
static llvm::cl::list<std::string> calibrationTexts(
    "calibration-text",
    llvm::cl::desc("Calibrate on these texts (plain text, or .jsonl with a "
                   "\"text\" per line) for the compression methods that need "
                   "statistics, instead of a stats= file"),
    llvm::cl::value_desc("file,..."), llvm::cl::CommaSeparated,
    llvm::cl::cat(category));
static llvm::cl::opt<std::string> tokenizerPath(
    "tokenizer",
    llvm::cl::desc("Hugging Face tokenizer.json for --calibration-text"),
    llvm::cl::value_desc("tokenizer.json"), llvm::cl::cat(category));
static llvm::cl::opt<unsigned> calibrationSamples(
    "samples",
    llvm::cl::desc("Calibration sequences of --context tokens (default 128)"),
    llvm::cl::init(128), llvm::cl::cat(category));
static llvm::cl::opt<unsigned> calibrationContext(
    "context", llvm::cl::desc("Tokens per calibration sequence (default 512)"),
    llvm::cl::init(512), llvm::cl::cat(category));
static llvm::cl::opt<uint64_t> calibrationSeed(
    "seed",
    llvm::cl::desc("Draw the calibration sequences at random from all of the "
                   "text with this seed (default: the first --samples "
                   "sequences in order)"),
    llvm::cl::cat(category));
static llvm::cl::opt<bool> sequential(
    "sequential",
    llvm::cl::desc("With --calibration-text: calibrate one part of the model "
                   "at a time, each on the outputs of the parts before it, "
                   "already compressed (default); =0 calibrates the fp32 "
                   "model in one run"),
    llvm::cl::init(true), llvm::cl::cat(category));
static llvm::cl::opt<std::string> calibrationMemory(
    "calibration-memory",
    llvm::cl::desc("Memory for the hidden states carried between the parts "
                   "of a sequential calibration, e.g. 2G or 512M (default: a "
                   "quarter of the machine's memory); beyond it they go to "
                   "memory-mapped scratch files"),
    llvm::cl::value_desc("bytes[K|M|G]"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> saveStats(
    "save-stats",
    llvm::cl::desc("With --calibration-text: also keep the statistics file"),
    llvm::cl::value_desc("file"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> emitMlir(
    "emit-mlir",
    llvm::cl::desc("Also write the model after "
                   "--prune/--factorize/--quantize/--calibration, "
                   "before the CPU pipeline, to this file (.mlirbc: bytecode)"),
    llvm::cl::value_desc("file"), llvm::cl::cat(category));

static llvm::cl::opt<std::string> emitOnnx(
    "emit-onnx",
    llvm::cl::desc("Also write the compressed model as ONNX to this file, "
                   "runnable by onnxruntime: quantized layers as "
                   "com.microsoft.MatMulNBits, other quantized weights as "
                   "DequantizeLinear, N:M-sparse quantized weights written "
                   "dense (ONNX input; not with structured pruning or "
                   "--factorize; without -o nothing is compiled)"),
    llvm::cl::value_desc("file.onnx"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> onnxExternalData(
    "onnx-external-data",
    llvm::cl::desc("With --emit-onnx: write the tensors to FILE.data "
                   "(always|never|auto; auto: when the source model has "
                   "external data or the tensors exceed 1 GiB)"),
    llvm::cl::init("auto"), llvm::cl::cat(category));

static llvm::cl::opt<std::string> targetCpu(
    "target-cpu",
    llvm::cl::desc("CPU the generated code may assume, an LLVM CPU name "
                   "(e.g. x86-64-v3, skylake-avx512, znver3; default: host, "
                   "the CPU slimc runs on)"),
    llvm::cl::init("host"), llvm::cl::cat(category));
static llvm::cl::opt<std::string> targetFeatures(
    "target-features",
    llvm::cl::desc("CPU features added to or removed from --target-cpu's, "
                   "in LLVM's spelling (e.g. +avx2,+fma,-avx512f)"),
    llvm::cl::value_desc("+feat,-feat,..."), llvm::cl::init(""),
    llvm::cl::cat(category));
static llvm::cl::opt<unsigned>
    jobs("jobs",
         llvm::cl::desc("Threads for LLVM optimization and code generation "
                        "(default: the number of cores, at most 8)"),
         llvm::cl::init(0), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    quiet("quiet",
          llvm::cl::desc("Do not print the compilation phases and their "
                         "times, nor the compression passes' per-layer "
                         "progress (unless their options ask for it)"),
          llvm::cl::cat(category));

static int error(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "slimc") << message << "\n";
  return 1;
}

namespace {
/// Prints one line per compilation phase with its wall-clock time, so that a
/// user sees progress on long compilations.
class PhaseTimer {
public:
  explicit PhaseTimer(bool silent = quiet) : silent(silent) {}
  void start(llvm::StringRef name) {
    finish();
    current = name.str();
    begin = std::chrono::steady_clock::now();
    if (!silent)
      llvm::errs() << "slimc: " << current << "...\n";
  }
  void finish() {
    if (current.empty())
      return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
            .count();
    total += seconds;
    if (!silent)
      llvm::errs() << llvm::formatv("slimc: {0}: {1:f2} s\n", current, seconds);
    current.clear();
  }
  ~PhaseTimer() {
    finish();
    if (!silent && total > 0)
      llvm::errs() << llvm::formatv("slimc: {0}total {1:f2} s\n", summary,
                                    total);
  }
  /// What the run wrote, printed before the total time.
  void setSummary(llvm::StringRef text) { summary = (text + ", ").str(); }
  double getTotal() const { return total; }

private:
  std::string current;
  std::chrono::steady_clock::time_point begin;
  double total = 0;
  std::string summary;
  bool silent;
};

/// The LLVM -O<level> pipeline, tuned for generated model code: loops are
/// vectorized and interleaved but not unrolled further (full unrolling of
/// the many constant-trip-count loops of a model multiplied its code size
/// and compile time for no measurable speed-up).
void optimize(llvm::Module &module, llvm::TargetMachine *machine,
              unsigned level) {
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopVectorization = level >= 2;
  tuning.SLPVectorization = level >= 2;
  tuning.LoopInterleaving = level >= 2;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(machine, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel ol = level == 0   ? llvm::OptimizationLevel::O0
                               : level == 1 ? llvm::OptimizationLevel::O1
                               : level == 2 ? llvm::OptimizationLevel::O2
                                            : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager mpm = level == 0
                                    ? pb.buildO0DefaultPipeline(ol)
                                    : pb.buildPerModuleDefaultPipeline(ol);
  mpm.run(module, mam);
}

/// What the generated code may assume about the CPU.
struct TargetChoice {
  std::string cpu;      ///< LLVM CPU name
  std::string features; ///< LLVM feature string, "+a,-b,..."
  /// The instruction-set features the code may use that the runtime can
  /// check on the machine that loads the model (those LLVM's host detection
  /// reports), recorded in model.json.
  std::vector<std::string> required;
};

/// Resolves --target-cpu / --target-features; an error message or "".
std::string chooseTarget(const llvm::Target &target, const std::string &triple,
                         TargetChoice &choice) {
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  bool isHost = targetCpu == "host";
  choice.cpu =
      isHost ? llvm::sys::getHostCPUName().str() : targetCpu.getValue();
  std::vector<std::string> feats;
  if (isHost)
    for (auto &f : host)
      feats.push_back((f.second ? "+" : "-") + f.first().str());
  std::unique_ptr<llvm::MCSubtargetInfo> probe(
      target.createMCSubtargetInfo(llvm::Triple(triple), choice.cpu, ""));
  if (!probe || !probe->isCPUStringValid(choice.cpu))
    return "--target-cpu: unknown CPU '" + choice.cpu + "' for " + triple +
           " (LLVM names such as x86-64-v3, skylake-avx512, znver3, or 'host')";
  llvm::StringSet<> known;
  for (const llvm::SubtargetFeatureKV &kv : probe->getAllProcessorFeatures())
    known.insert(kv.Key);
  llvm::SmallVector<llvm::StringRef> user;
  llvm::StringRef(targetFeatures).split(user, ',', -1, false);
  for (llvm::StringRef f : user) {
    f = f.trim();
    if (f.size() < 2 || (f[0] != '+' && f[0] != '-'))
      return "--target-features: expected '+name' or '-name', got '" + f.str() +
             "'";
    if (!known.contains(f.drop_front()))
      return "--target-features: unknown feature '" + f.drop_front().str() +
             "' for " + triple;
    feats.push_back(f.str());
  }
  choice.features = llvm::join(feats, ",");
  std::unique_ptr<llvm::MCSubtargetInfo> sti(target.createMCSubtargetInfo(
      llvm::Triple(triple), choice.cpu, choice.features));
  for (auto &f : host)
    if (sti->checkFeatures("+" + f.first().str()))
      choice.required.push_back(f.first().str());
  llvm::sort(choice.required);
  return "";
}

std::unique_ptr<llvm::TargetMachine> createMachine(const llvm::Target &target,
                                                   const std::string &triple,
                                                   const TargetChoice &choice,
                                                   unsigned level) {
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(target.createTargetMachine(
      llvm::Triple(triple), choice.cpu, choice.features, options,
      llvm::Reloc::PIC_, std::nullopt,
      level >= 3   ? llvm::CodeGenOptLevel::Aggressive
      : level == 0 ? llvm::CodeGenOptLevel::None
                   : llvm::CodeGenOptLevel::Default));
}

unsigned defaultJobs() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
}

/// Optimizes and compiles `module` into object files, one per partition:
/// the module is split (llvm::SplitModule) into `jobs` parts, each carried to
/// its own thread and LLVMContext as bitcode, as LLVM's parallel LTO code
/// generation does. Returns an error message or "".
std::string emitObjects(std::unique_ptr<llvm::Module> module,
                        const llvm::Target &target, const std::string &triple,
                        const TargetChoice &choice, unsigned level,
                        llvm::StringRef dir, bool keep, unsigned jobs,
                        std::vector<std::string> &objects) {
  size_t functions = 0;
  for (llvm::Function &f : *module)
    functions += !f.isDeclaration();
  jobs = std::max<unsigned>(1, std::min<size_t>(jobs, functions));
  std::vector<llvm::SmallString<0>> parts;
  if (jobs == 1) {
    parts.emplace_back();
    llvm::raw_svector_ostream os(parts.back());
    llvm::WriteBitcodeToFile(*module, os);
  } else {
    llvm::SplitModule(*module, jobs, [&](std::unique_ptr<llvm::Module> part) {
      parts.emplace_back();
      llvm::raw_svector_ostream os(parts.back());
      llvm::WriteBitcodeToFile(*part, os);
    });
  }
  module.reset();
  std::vector<std::string> errors(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    llvm::SmallString<256> path(dir);
    std::string name =
        parts.size() == 1 ? "model" : "model." + std::to_string(i);
    llvm::sys::path::append(path, name + (keep ? ".o" : ".%%%%%%%%.o.tmp"));
    if (!keep) {
      // Unique (another slimc may write into the same folder), removed if
      // slimc is interrupted.
      int fd;
      llvm::SmallString<256> unique;
      if (std::error_code ec =
              llvm::sys::fs::createUniqueFile(path, fd, unique))
        return "cannot write in " + dir.str() + ": " + ec.message();
      llvm::sys::Process::SafelyCloseFileDescriptor(fd);
      llvm::sys::RemoveFileOnSignal(unique);
      path = unique;
    }
    objects.push_back(std::string(path));
  }
  auto work = [&](size_t i) {
    llvm::LLVMContext context;
    llvm::Expected<std::unique_ptr<llvm::Module>> m = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(llvm::StringRef(parts[i].data(), parts[i].size()),
                              "part"),
        context);
    if (!m) {
      errors[i] =
          "cannot read back module part: " + llvm::toString(m.takeError());
      return;
    }
    std::unique_ptr<llvm::TargetMachine> machine =
        createMachine(target, triple, choice, level);
    optimize(**m, machine.get(), level);
    std::error_code ec;
    llvm::raw_fd_ostream os(objects[i], ec, llvm::sys::fs::OF_None);
    if (ec) {
      errors[i] = "cannot write " + objects[i] + ": " + ec.message();
      return;
    }
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      errors[i] = "the target cannot emit object files";
      return;
    }
    codegen.run(**m);
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < parts.size(); ++i)
    threads.emplace_back(work, i);
  work(0);
  for (std::thread &t : threads)
    t.join();
  for (const std::string &e : errors)
    if (!e.empty())
      return e;
  return "";
}

/// Files written under temporary names, renamed on success, removed
/// otherwise.
struct PendingFiles {
  std::vector<std::pair<std::string, std::string>> files; // tmp -> final
  bool committed = false;
  /// The output directory where this run created it (removed, if still
  /// empty, when the run fails).
  std::string createdDir;
  /// A unique temporary name for `dir/name` (two runs into one folder never
  /// share one), removed if slimc is interrupted; "" with `error` set when
  /// the target may not be replaced or the file cannot be created.
  std::string add(StringRef dir, StringRef name, std::string &error) {
    llvm::SmallString<256> final(dir), tmp;
    llvm::sys::path::append(final, name);
    if (llvm::Error e = mlir::slim::checkReplaceable(final)) {
      error = "cannot write " + std::string(final) + ": " +
              llvm::toString(std::move(e));
      return "";
    }
    int fd;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueFile(final + ".%%%%%%%%.tmp", fd, tmp)) {
      error = "cannot write in " + dir.str() + ": " + ec.message();
      return "";
    }
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
    llvm::sys::RemoveFileOnSignal(tmp);
    files.push_back({std::string(tmp), std::string(final)});
    return std::string(tmp);
  }
  bool commit() {
    for (auto &[tmp, final] : files) {
      if (llvm::sys::fs::rename(tmp, final))
        return false;
      llvm::sys::DontRemoveFileOnSignal(tmp);
    }
    committed = true;
    return true;
  }
  ~PendingFiles() {
    if (committed)
      return;
    for (auto &[tmp, final] : files) {
      llvm::sys::fs::remove(tmp);
      llvm::sys::DontRemoveFileOnSignal(tmp);
    }
    if (!createdDir.empty())
      llvm::sys::fs::remove(createdDir); // only if empty
  }
};

/// ONNX element type of a tensor argument or result (from the importer's
/// attribute, else from the MLIR element type).
int32_t onnxType(DictionaryAttr attrs, Type element) {
  if (attrs)
    if (auto a = attrs.getAs<IntegerAttr>("onnx.elem_type"))
      return static_cast<int32_t>(a.getInt());
  if (element.isF32())
    return 1;
  if (element.isF64())
    return 11;
  if (element.isF16())
    return 10;
  if (element.isBF16())
    return 16;
  if (element.isInteger(1))
    return 9;
  if (element.isInteger(8))
    return 3;
  if (element.isInteger(16))
    return 5;
  if (element.isInteger(32))
    return 6;
  if (element.isInteger(64))
    return 7;
  return 0;
}

llvm::json::Object describe(Type type, DictionaryAttr attrs, StringRef dflt) {
  auto t = cast<RankedTensorType>(type);
  llvm::json::Array dims, names;
  ArrayAttr dimNames =
      attrs ? attrs.getAs<ArrayAttr>("onnx.dim_names") : ArrayAttr();
  for (int64_t d = 0; d < t.getRank(); ++d) {
    dims.push_back(t.isDynamicDim(d) ? int64_t(-1) : t.getDimSize(d));
    StringRef n;
    if (dimNames && d < static_cast<int64_t>(dimNames.size()))
      n = cast<StringAttr>(dimNames[d]).getValue();
    names.push_back(t.isDynamicDim(d) ? n.str() : "");
  }
  StringRef name = dflt;
  if (attrs)
    if (auto s = attrs.getAs<StringAttr>("onnx.name"))
      name = s.getValue();
  return llvm::json::Object{{"name", name.str()},
                            {"dtype", onnxType(attrs, t.getElementType())},
                            {"dims", std::move(dims)},
                            {"dim_names", std::move(names)}};
}
/// What every compilation of a tensor-level module shares: the target, the
/// pipeline and the link.
struct CompileSetup {
  const llvm::Target *target = nullptr;
  std::string triple;
  TargetChoice choice;
  /// Not owned (pass options cannot be copied).
  const slim::CpuPipelineOptions *pipeline = nullptr;
  bool customPipeline = false;
  std::string pipelineText;
  unsigned optLevel = 3;
  unsigned jobs = 1;
  bool keepIntermediates = false;
  std::string supportLib;
  TimingScope *timing = nullptr;
};

/// Compiles `module` (entry @entryName on tensors, compression done) into
/// `dir`: model.so, model.weights, model.json and model.h, written under
/// temporary names and renamed at the end. Returns an error message or "".
std::string compileModule(ModuleOp module, StringRef dir, bool createdDir,
                          StringRef source, const CompileSetup &setup,
                          PhaseTimer &phases) {
  auto fail = [](const llvm::Twine &message) { return message.str(); };
  MLIRContext &context = *module.getContext();
  auto entry = module.lookupSymbol<func::FuncOp>(entryName);
  if (!entry)
    return fail("no function @" + entryName + " to compile");
  size_t numInputs = entry.getNumArguments(),
         numOutputs = entry.getNumResults();
  entry->setAttr("llvm.emit_c_interface", UnitAttr::get(&context));
  PendingFiles files;
  if (createdDir)
    files.createdDir = dir.str();
  std::string addError;
  std::string weightsTmp = files.add(dir, "model.weights", addError);
  std::string soTmp = files.add(dir, "model.so", addError);
  std::string jsonTmp = files.add(dir, "model.json", addError);
  std::string headerTmp = files.add(dir, "model.h", addError);
  if (!addError.empty())
    return fail(addError);
  // The interface, after compression (structured pruning shrinks the KV
  // cache's heads) and before the pipeline rewrites the signature.
  llvm::json::Array inputs, outputs;
  for (auto [i, t] : llvm::enumerate(entry.getFunctionType().getInputs()))
    inputs.push_back(
        describe(t, entry.getArgAttrDict(i), "input" + std::to_string(i)));
  for (auto [i, t] : llvm::enumerate(entry.getFunctionType().getResults()))
    outputs.push_back(
        describe(t, entry.getResultAttrDict(i), "output" + std::to_string(i)));
  llvm::json::Array observationPoints;
  if (auto points =
          module->getAttrOfType<ArrayAttr>("slim.observation_points")) {
    for (Attribute a : points) {
      auto d = cast<DictionaryAttr>(a);
      llvm::json::Array layers, hashes;
      for (Attribute l : d.getAs<ArrayAttr>("layers"))
        layers.push_back(cast<StringAttr>(l).getValue().str());
      if (auto h = d.getAs<ArrayAttr>("weight_hashes"))
        for (Attribute a : h)
          hashes.push_back(cast<StringAttr>(a).getValue().str());
      observationPoints.push_back(llvm::json::Object{
          {"channels", d.getAs<IntegerAttr>("channels").getInt()},
          {"layers", std::move(layers)},
          {"weight_hashes", std::move(hashes)}});
    }
  }
  // Compile to the LLVM dialect.
  phases.start("MLIR pipeline");
  PassManager pm(&context, ModuleOp::getOperationName());
  if (setup.timing)
    pm.enableTiming(*setup.timing);
  if (failed(applyPassManagerCLOptions(pm)))
    return "invalid pass manager options";
  if (setup.customPipeline) {
    if (failed(parsePassPipeline(setup.pipelineText, pm)))
      return fail("--pipeline: invalid pass pipeline");
  } else {
    slim::CpuPipelineOptions options;
    options.copyOptionValuesFrom(*setup.pipeline);
    options.weightsFile = weightsTmp;
    slim::buildCpuPipeline(pm, options);
  }
  if (failed(pm.run(module)))
    return fail("compilation of " + source + " failed");
  if (!llvm::sys::fs::exists(weightsTmp)) {
    std::error_code ec;
    llvm::raw_fd_ostream empty(weightsTmp, ec);
  }
  bool weightsArgument = false;
  if (auto llvmFunc = module.lookupSymbol<LLVM::LLVMFuncOp>(entryName))
    weightsArgument = llvmFunc->hasAttr("slim.weights_argument");
  uint64_t weightsBytes = 0;
  llvm::sys::fs::file_size(weightsTmp, weightsBytes);

  // LLVM IR, optimized for the host, as an object file.
  phases.start("translation to LLVM IR");
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "slim_model");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  slim::renameOpenMPRuntimeCalls(*llvmModule);
  std::unique_ptr<llvm::TargetMachine> machine =
      createMachine(*setup.target, setup.triple, setup.choice, setup.optLevel);
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(llvm::Triple(setup.triple));

  // slim_entry(void **args): args[0] points at the results, then one memref
  // descriptor per argument; calls the entry's C interface.
  std::string ciface = "_mlir_ciface_" + entryName;
  llvm::Function *callee = llvmModule->getFunction(ciface);
  if (!callee)
    return fail("the compiled module has no " + ciface);
  {
    llvm::IRBuilder<> builder(llvmContext);
    auto *ptrTy = llvm::PointerType::get(llvmContext, 0);
    auto *fnTy = llvm::FunctionType::get(builder.getVoidTy(), {ptrTy}, false);
    auto *fn = llvm::Function::Create(fnTy, llvm::GlobalValue::ExternalLinkage,
                                      "slim_entry", llvmModule.get());
    builder.SetInsertPoint(llvm::BasicBlock::Create(llvmContext, "entry", fn));
    std::vector<llvm::Value *> callArgs;
    // Without results the C interface has no result parameter: args[0]
    // (the results) is skipped.
    unsigned first = numOutputs == 0 ? 1 : 0;
    for (unsigned i = 0; i < callee->arg_size(); ++i) {
      llvm::Value *slot =
          builder.CreateConstGEP1_64(ptrTy, fn->getArg(0), first + i);
      callArgs.push_back(builder.CreateLoad(ptrTy, slot));
    }
    builder.CreateCall(callee, callArgs);
    builder.CreateRetVoid();
    size_t expected = 1 + numInputs + (weightsArgument ? 1 : 0);
    if (numOutputs == 0)
      expected -= 1;
    if (callee->arg_size() != expected)
      return fail("unexpected C interface of @" + entryName + ": " +
                  std::to_string(callee->arg_size()) + " parameters, " +
                  std::to_string(expected) + " expected");
  }
  // The interface, as model.json will record it, tied to the code: the
  // runtime refuses a model.json that does not match (ModelFingerprint.h).
  std::string fingerprint = mlir::slim::getModelFingerprint(
      llvm::json::Value(llvm::json::Array(inputs)),
      llvm::json::Value(llvm::json::Array(outputs)), weightsArgument,
      static_cast<int64_t>(weightsBytes));
  {
    llvm::Constant *text =
        llvm::ConstantDataArray::getString(llvmContext, fingerprint);
    new llvm::GlobalVariable(*llvmModule, text->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, text,
                             "slim_model_fingerprint");
  }
  if (setup.keepIntermediates) {
    llvm::SmallString<256> llPath(dir);
    llvm::sys::path::append(llPath, "model.ll");
    std::error_code ec;
    llvm::raw_fd_ostream os(llPath, ec);
    llvmModule->print(os, nullptr);
  }
  phases.start(llvm::formatv("LLVM -O{0} optimization and code generation",
                             setup.optLevel)
                   .str());
  std::vector<std::string> objects;
  if (std::string err = emitObjects(
          std::move(llvmModule), *setup.target, setup.triple, setup.choice,
          setup.optLevel, dir, setup.keepIntermediates, setup.jobs, objects);
      !err.empty()) {
    for (const std::string &o : objects)
      llvm::sys::fs::remove(o);
    return fail(err);
  }

  phases.start("link");
  // Link: the object, Slim's model support archive, oneDNN (GEMMs), the
  // OpenMP runtime oneDNN threads with, libm.
  const std::string &support = setup.supportLib;
  if (!llvm::sys::fs::exists(support))
    return fail("model support archive not found: " + support);
  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    return fail("no C compiler driver 'cc' on PATH to link the model");
  std::vector<llvm::StringRef> linkArgs{*cc, "-shared", "-o", soTmp};
  for (const std::string &o : objects)
    linkArgs.push_back(o);
  for (llvm::StringRef a :
       {llvm::StringRef(support), llvm::StringRef("-ldnnl"),
        llvm::StringRef("-lgomp"), llvm::StringRef("-lstdc++"),
        llvm::StringRef("-lm")})
    linkArgs.push_back(a);
  std::string linkError;
  int rc = llvm::sys::ExecuteAndWait(*cc, linkArgs, std::nullopt, {}, 0, 0,
                                     &linkError);
  if (!setup.keepIntermediates)
    for (const std::string &o : objects)
      llvm::sys::fs::remove(o);
  if (rc != 0)
    return fail("linking " + soTmp + " failed" +
                (linkError.empty() ? "" : ": " + linkError));

  // Interface description and C header.
  {
    llvm::json::Object root{
        {"format", 1},
        {"entry", "slim_entry"},
        {"source", source},
        {"weights_argument", weightsArgument},
        {"target",
         llvm::json::Object{
             {"triple", setup.triple},
             {"cpu", setup.choice.cpu},
             {"required_features", llvm::json::Array(setup.choice.required)}}},
        {"weights_bytes", static_cast<int64_t>(weightsBytes)},
        {"fingerprint", fingerprint},
        {"inputs", std::move(inputs)},
        {"outputs", std::move(outputs)}};
    if (!observationPoints.empty())
      root["observation_points"] = std::move(observationPoints);
    std::error_code ec;
    llvm::raw_fd_ostream os(jsonTmp, ec);
    if (ec)
      return fail("cannot write " + jsonTmp + ": " + ec.message());
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  }
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(headerTmp, ec);
    if (ec)
      return fail("cannot write " + headerTmp + ": " + ec.message());
    os << "/* Generated by slimc from " << source << ". */\n"
       << "/* Load this directory with slim_model_load() from "
          "<slim/Runtime.h>;\n   model.json lists the inputs and outputs. */\n"
       << "#ifndef SLIM_MODEL_H\n#define SLIM_MODEL_H\n"
       << "#define SLIM_MODEL_NUM_INPUTS " << numInputs << "\n"
       << "#define SLIM_MODEL_NUM_OUTPUTS " << numOutputs << "\n"
       << "/* args[0]: results (memref descriptors, back to back); then one\n"
          "   descriptor per input, then the mapped weights (1-D i8). */\n"
       << "void slim_entry(void **args);\n"
       << "void slim_rt_set_num_threads(int threads);\n"
       << "#endif\n";
  }
  if (!files.commit())
    return fail("cannot move the outputs into " + dir);
  return "";
}

} // namespace

/// The option names `pass` takes (from its textual form, which lists every
/// option with its value).
static llvm::SmallVector<std::string> getPassOptionNames(Pass &pass) {
  std::string text;
  llvm::raw_string_ostream os(text);
  pass.printAsTextualPipeline(os);
  os.flush();
  llvm::SmallVector<std::string> names;
  StringRef rest(text);
  rest = rest.drop_until([](char c) { return c == '{'; });
  for (size_t i = 1; i < rest.size(); ++i) {
    size_t eq = rest.find('=', i);
    if (eq == StringRef::npos)
      break;
    names.push_back(rest.slice(i, eq).trim().str());
    // Skip the value: up to the next space outside braces.
    int depth = 0;
    for (i = eq + 1; i < rest.size(); ++i) {
      if (rest[i] == '{')
        ++depth;
      else if (rest[i] == '}' && depth-- == 0)
        break;
      else if (rest[i] == ' ' && depth == 0)
        break;
    }
  }
  return names;
}

/// An error for the first `key=value` of `options` whose key `pass` does
/// not take, with the closest name and the list; "" if all are known.
static std::string checkPassOptions(StringRef flag, Pass &pass,
                                    StringRef options) {
  llvm::SmallVector<std::string> names = getPassOptionNames(pass);
  llvm::SmallVector<StringRef> words;
  options.split(words, ' ', -1, /*KeepEmpty=*/false);
  for (StringRef word : words) {
    StringRef key = word.split('=').first;
    if (llvm::is_contained(names, key))
      continue;
    std::string best;
    unsigned bestDistance = 4;
    for (const std::string &n : names) {
      unsigned d = key.edit_distance(n);
      if (d < bestDistance) {
        bestDistance = d;
        best = n;
      }
    }
    std::string list = llvm::join(names, ", ");
    return (flag + ": unknown option '" + key + "'" +
            (best.empty() ? "" : "; did you mean '" + best + "'?") +
            " (options: " + list + ")")
        .str();
  }
  return "";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::slim::initTool("slimc");
  // Passes first: --mlir-print-ir-after=<pass> resolves names against the
  // registry as the pass-manager options are created.
  mlir::registerAllPasses();
  slim::registerAllSlimPasses();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // --help lists slimc's options and MLIR's (--mlir-timing, IR printing);
  // the hundreds of LLVM backend options linked in stay usable and are
  // listed by --help-hidden.
  for (auto &entry : llvm::cl::getRegisteredOptions()) {
    llvm::cl::Option *option = entry.second;
    StringRef name = entry.first;
    if (llvm::is_contained(option->Categories, &category) ||
        name.starts_with("mlir-") || name.starts_with("help") ||
        name == "version")
      continue;
    option->setHiddenFlag(llvm::cl::Hidden);
  }
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "slimc: compiles an ONNX or MLIR model into a shared library and a "
      "weights file\n");

  slim::CpuPipelineOptions pipelineOptions;
  bool customPipeline = StringRef(pipelineOpt).starts_with("builtin.module(");
  if (!customPipeline && !pipelineOpt.empty() &&
      failed(pipelineOptions.parseFromString(pipelineOpt)))
    return error("--pipeline: cannot parse '" + pipelineOpt + "'");
  if (target != "cpu")
    return error("--target: unknown target '" + target + "' (expected 'cpu')");
  if (optLevelShort.getNumOccurrences()) {
    if (optLevel.getNumOccurrences() && optLevel != optLevelShort)
      return error("-O" + std::to_string(optLevelShort) + " and --opt-level=" +
                   std::to_string(optLevel) + " disagree");
    optLevel = optLevelShort.getValue();
  }
  if (optLevel > 3)
    return error("--opt-level: expected 0 to 3, got " +
                 std::to_string(optLevel));

  // The target first: a bad --target-cpu/--target-features is reported
  // before any work, and leaves nothing behind.
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string targetError;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), targetError);
  if (!llvmTarget)
    return error("no LLVM target for " + triple + ": " + targetError);
  TargetChoice choice;
  if (std::string err = chooseTarget(*llvmTarget, triple, choice); !err.empty())
    return error(err);

  if (printPipeline) {
    PassManager pm(nullptr, ModuleOp::getOperationName());
    if (customPipeline) {
      if (failed(parsePassPipeline(pipelineOpt, pm)))
        return error("--pipeline: invalid pass pipeline");
    } else {
      pipelineOptions.weightsFile = "<OUT_DIR>/model.weights";
      slim::buildCpuPipeline(pm, pipelineOptions);
    }
    pm.printAsTextualPipeline(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  if (inputPath.empty())
    return error("no input model (usage: slimc model.onnx -o OUT_DIR)");
  if (outDir.empty() && emitOnnx.empty())
    return error("no output directory (-o OUT_DIR)");
  bool compileModel = !outDir.empty();
  slim::OnnxExportOptions exportOptions;
  if (!emitOnnx.empty()) {
    if (!StringRef(inputPath).ends_with(".onnx"))
      return error("--emit-onnx needs an ONNX input (the exported model is "
                   "the input graph with its weights compressed)");
    // Structured pruning changes the shapes of the other layers and of the
    // KV cache, which the export (it rewrites weights only) cannot follow;
    // low-rank factors have no ONNX form yet. N:M-sparse weights with
    // quantized values are written dense.
    StringRef prune = pruneOpt;
    if (factorizeOpt.getNumOccurrences() || prune.contains("method=flap") ||
        prune.contains("pattern=heads") || prune.contains("pattern=channels") ||
        prune.contains("pattern=structured"))
      return error("--emit-onnx: structured pruning and factorized weights "
                   "have no ONNX form yet (N:M pruning with bits= and "
                   "--quantize do)");
    if (calibration)
      return error("--emit-onnx and --calibration do not go together");
    if (onnxExternalData == "always")
      exportOptions.externalData =
          slim::OnnxExportOptions::ExternalData::Always;
    else if (onnxExternalData == "never")
      exportOptions.externalData = slim::OnnxExportOptions::ExternalData::Never;
    else if (onnxExternalData != "auto")
      return error(
          "--onnx-external-data: expected always, never or auto, got '" +
          onnxExternalData + "'");
  } else if (onnxExternalData.getNumOccurrences()) {
    return error("--onnx-external-data needs --emit-onnx");
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  slim::registerAllSlimDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  MLIRContext context(registry);
  // Diagnostics name the node or layer; a dump of the op adds nothing.
  context.printOpOnDiagnostic(false);
  context.loadAllAvailableDialects();
  slim::FileDiagnosticPrinter diagnostics(&context);

  // --mlir-timing: MLIR's per-pass report of the compression and CPU
  // pipelines, printed when slimc ends.
  DefaultTimingManager timing;
  applyDefaultTimingManagerCLOptions(timing);
  TimingScope timingRoot = timing.getRootScope();
  PhaseTimer phases;
  // Load.
  phases.start(StringRef(inputPath).ends_with(".onnx") ? "import" : "parse");
  OwningOpRef<ModuleOp> module;
  if (StringRef(inputPath).ends_with(".onnx")) {
    slim::OnnxImportOptions importOptions;
    if (!bindDimsOpt.empty()) {
      std::string err =
          slim::parseDimBindings(bindDimsOpt, importOptions.boundDims);
      if (!err.empty())
        return error("--bind-dims: " + err);
    }
    FailureOr<OwningOpRef<ModuleOp>> imported =
        slim::importOnnxModel(&context, inputPath, importOptions);
    if (failed(imported))
      return 1;
    module = std::move(*imported);
  } else {
    llvm::SourceMgr sourceMgr;
    module =
        parseSourceFile<ModuleOp>(inputPath, sourceMgr, ParserConfig(&context));
    if (!module)
      return 1;
  }
  auto entry = module->lookupSymbol<func::FuncOp>(entryName);
  if (!entry || entry.isExternal())
    return error(inputPath + ": no function @" + entryName + " to compile");
  for (Type t : entry.getFunctionType().getInputs())
    if (!isa<RankedTensorType>(t))
      return error("@" + entryName + ": arguments must be ranked tensors");
  for (Type t : entry.getFunctionType().getResults())
    if (!isa<RankedTensorType>(t))
      return error("@" + entryName + ": results must be ranked tensors");

  // Every output path is checked before the long work starts: a report
  // that cannot be written should not be found out after an hour.
  auto checkOutput = [&](StringRef path, StringRef what) -> std::string {
    if (llvm::Error e = mlir::slim::checkReplaceable(path))
      return (what + " " + path + ": " + llvm::toString(std::move(e))).str();
    llvm::SmallString<256> parent(path);
    llvm::sys::path::remove_filename(parent);
    if (parent.empty())
      parent = ".";
    if (!llvm::sys::fs::is_directory(parent))
      return (what + " " + path + ": directory " + parent + " does not exist")
          .str();
    if (::access(parent.c_str(), W_OK) != 0)
      return (what + " " + path + ": directory " + parent + " is not writable")
          .str();
    return "";
  };
  std::vector<std::pair<std::string, std::string>> outputs;
  if (!saveStats.empty())
    outputs.push_back({saveStats, "--save-stats"});
  if (!emitMlir.empty())
    outputs.push_back({emitMlir, "--emit-mlir"});
  if (!emitOnnx.empty())
    outputs.push_back({emitOnnx, "--emit-onnx"});
  for (const std::string *options :
       {&quantizeOpt.getValue(), &pruneOpt.getValue(),
        &factorizeOpt.getValue()}) {
    llvm::SmallVector<StringRef> words;
    StringRef(*options).split(words, ' ', -1, /*KeepEmpty=*/false);
    for (StringRef w : words)
      if (w.consume_front("report=") && !w.empty())
        outputs.push_back({w.str(), "report"});
  }
  for (const auto &[path, what] : outputs)
    if (std::string err = checkOutput(path, what); !err.empty())
      return error("cannot write " + err);
  bool existed = !compileModel || llvm::sys::fs::exists(outDir);
  if (compileModel) {
    if (llvm::sys::fs::exists(outDir) && !llvm::sys::fs::is_directory(outDir))
      return error("-o " + outDir + " exists and is not a directory");
    if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
      return error("cannot create " + outDir + ": " + ec.message());
    // One slimc at a time per output folder: two would leave a folder with
    // files of both models. The lock (on the directory itself) is released
    // when slimc exits, however it exits.
    int lockFd = ::open(outDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lockFd < 0 || ::flock(lockFd, LOCK_EX | LOCK_NB) != 0)
      return error(outDir + " is being written by another slimc: wait for it "
                            "or choose another -o");
  }
  // Removes the output directory if this run created it and fails before
  // writing anything into it.
  llvm::scope_exit removeCreated([&] {
    if (!existed)
      llvm::sys::fs::remove(outDir); // only if empty
  });

  CompileSetup setup;
  setup.target = llvmTarget;
  setup.triple = triple;
  setup.choice = choice;
  setup.pipeline = &pipelineOptions;
  setup.customPipeline = customPipeline;
  setup.pipelineText = pipelineOpt;
  setup.optLevel = optLevel;
  setup.jobs = jobs ? jobs : defaultJobs();
  setup.keepIntermediates = keepObject;
  setup.timing = &timingRoot;
  setup.supportLib = supportLib;
  if (setup.supportLib.empty()) {
    std::string exe = llvm::sys::fs::getMainExecutable(argv[0], (void *)&error);
    llvm::SmallString<256> p(
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
    llvm::sys::path::append(p, "lib", "libSlimModelSupport.a");
    setup.supportLib = std::string(p);
  }

  // Model-level transformations: compression, instrumentation.
  bool compress = quantizeOpt.getNumOccurrences() ||
                  pruneOpt.getNumOccurrences() ||
                  factorizeOpt.getNumOccurrences();
  // The compression passes; `stats` (when not empty) overrides the
  // options' stats=, and a part of a sequential calibration writes no
  // report and prints no per-layer progress.
  auto addCompression = [&](OpPassManager &pm, StringRef stats,
                            bool part) -> std::string {
    auto add = [&](const std::string &user, StringRef pass,
                   StringRef flag) -> std::string {
      std::string options = user;
      if (!stats.empty())
        options += " stats=" + stats.str();
      if (part)
        options += " report= progress=0";
      else if (!quiet && !StringRef(options).contains("progress"))
        options += " progress=1";
      if (failed(parsePassPipeline((pass + "{" + options + "}").str(), pm)))
        return (flag + ": cannot parse '" + user + "'").str();
      return "";
    };
    std::string err;
    if (pruneOpt.getNumOccurrences())
      err = add(pruneOpt, "slim-prune", "--prune");
    if (err.empty() && factorizeOpt.getNumOccurrences())
      err = add(factorizeOpt, "slim-factorize", "--factorize");
    if (err.empty() && quantizeOpt.getNumOccurrences())
      err = add(quantizeOpt, "slim-quantize", "--quantize");
    return err;
  };

  // Misspelled compression options are reported before anything is read.
  struct CompressionFlag {
    llvm::cl::opt<std::string> *opt;
    const char *flag;
    std::function<std::unique_ptr<Pass>()> create;
  };
  for (const CompressionFlag &c :
       {CompressionFlag{&pruneOpt, "--prune",
                        [] { return slim::createSlimPrunePass(); }},
        CompressionFlag{&factorizeOpt, "--factorize",
                        [] { return slim::createSlimFactorizePass(); }},
        CompressionFlag{&quantizeOpt, "--quantize",
                        [] { return slim::createSlimQuantizePass(); }}}) {
    if (!c.opt->getNumOccurrences())
      continue;
    std::unique_ptr<Pass> pass = c.create();
    if (std::string err = checkPassOptions(c.flag, *pass, *c.opt); !err.empty())
      return error(err);
  }

  // A statistics file given with stats= must come from this model: the
  // weights' hashes it records are compared with the model's.
  for (const std::string *opt : {&pruneOpt.getValue(), &factorizeOpt.getValue(),
                                 &quantizeOpt.getValue()}) {
    StringRef options(*opt);
    size_t at = options.find("stats=");
    if (at == StringRef::npos || (at > 0 && options[at - 1] != ' '))
      continue;
    StringRef path = options.drop_front(at + 6).split(' ').first.trim("'\"");
    llvm::Expected<slim::CalibrationStats> stats =
        slim::CalibrationStats::open(path);
    if (!stats) { // the pass reports it, naming the option
      llvm::consumeError(stats.takeError());
      continue;
    }
    int differ = 0;
    std::string example;
    for (const slim::LinearLayer &layer : slim::findLinearLayers(entry)) {
      StringRef recorded = stats->getWeightHash(layer.name);
      if (recorded.empty())
        continue;
      std::string hash = layer.getWeightHash();
      if (hash.empty() || hash == recorded)
        continue;
      if (differ++ == 0)
        example = llvm::formatv("'{0}': {1} in the file, {2} here", layer.name,
                                recorded, hash);
    }
    if (differ)
      return error(llvm::formatv(
          "{0} was computed for another model: the weights of {1} layer{2} "
          "differ from {3}'s ({4})",
          path, differ, differ == 1 ? "" : "s", inputPath.getValue(), example));
  }

  // Calibration inside slimc: the statistics the compression passes read.
  std::string statsFile;
  std::string scratchDir;
  llvm::scope_exit removeScratch([&] {
    if (!scratchDir.empty())
      llvm::sys::fs::remove_directories(scratchDir);
  });
  if (calibrationTexts.empty()) {
    for (const llvm::cl::Option *o :
         std::initializer_list<const llvm::cl::Option *>{
             &tokenizerPath, &calibrationSamples, &calibrationContext,
             &calibrationSeed, &sequential, &calibrationMemory, &saveStats})
      if (o->getNumOccurrences())
        return error("--" + o->ArgStr + " needs --calibration-text");
  }
  if (!calibrationTexts.empty()) {
    if (!compress)
      return error("--calibration-text: nothing to calibrate for (give "
                   "--quantize, --prune or --factorize)");
    for (const std::string *opt :
         {&quantizeOpt.getValue(), &pruneOpt.getValue(),
          &factorizeOpt.getValue()})
      if (StringRef(*opt).contains("stats="))
        return error("--calibration-text computes the statistics: drop "
                     "stats= from the compression options");
    llvm::SmallString<256> scratch;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("slimc-calibration", scratch))
      return error("cannot create a scratch directory: " + ec.message());
    scratchDir = std::string(scratch);
    statsFile = saveStats.empty() ? scratchDir + "/calibration.stats"
                                  : saveStats.getValue();
    phases.start(sequential ? "sequential calibration" : "calibration");
    slimc::CalibrationSettings settings;
    settings.texts.assign(calibrationTexts.begin(), calibrationTexts.end());
    settings.tokenizer = tokenizerPath;
    settings.samples = calibrationSamples;
    settings.context = calibrationContext;
    if (calibrationSeed.getNumOccurrences())
      settings.seed = calibrationSeed.getValue();
    settings.sequential = sequential;
    settings.quiet = quiet;
    settings.registry = &registry;
    if (calibrationMemory.getNumOccurrences()) {
      StringRef text = StringRef(calibrationMemory).trim();
      uint64_t scale = 1;
      if (text.ends_with_insensitive("k"))
        scale = 1ull << 10;
      else if (text.ends_with_insensitive("m"))
        scale = 1ull << 20;
      else if (text.ends_with_insensitive("g"))
        scale = 1ull << 30;
      if (scale != 1)
        text = text.drop_back();
      uint64_t value = 0;
      if (text.getAsInteger(10, value) || value > (~0ull) / scale)
        return error("--calibration-memory: expected a size such as 2G, "
                     "512M or 1000000, got '" +
                     calibrationMemory + "'");
      settings.memoryBudget = value * scale;
    } else {
      long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
      if (pages > 0 && page > 0)
        settings.memoryBudget = static_cast<size_t>(pages) * page / 4;
    }
    settings.header["model"] = inputPath.getValue();
    if (sequential) {
      llvm::json::Object recipe;
      if (pruneOpt.getNumOccurrences())
        recipe["prune"] = pruneOpt.getValue();
      if (factorizeOpt.getNumOccurrences())
        recipe["factorize"] = factorizeOpt.getValue();
      if (quantizeOpt.getNumOccurrences())
        recipe["quantize"] = quantizeOpt.getValue();
      settings.header["recipe"] = std::move(recipe);
    }
    auto compilePart = [&](ModuleOp part, StringRef dir) -> std::string {
      PhaseTimer silent(/*silent=*/true);
      // As the model's, without MLIR timing or intermediate files.
      CompileSetup partSetup = setup;
      partSetup.keepIntermediates = false;
      partSetup.timing = nullptr;
      if (std::error_code ec = llvm::sys::fs::create_directories(dir))
        return "cannot create " + dir.str() + ": " + ec.message();
      return compileModule(part, dir, /*createdDir=*/true, inputPath, partSetup,
                           silent);
    };
    auto compressPart = [&](ModuleOp part, StringRef stats) -> std::string {
      PassManager pm(part.getContext(), ModuleOp::getOperationName());
      if (std::string err = addCompression(pm, stats, /*part=*/true);
          !err.empty())
        return err;
      if (failed(pm.run(part)))
        return "compression failed";
      return "";
    };
    if (std::string err = slimc::calibrateModel(
            entry, settings, scratchDir, compilePart, compressPart, statsFile);
        !err.empty())
      return error(err);
    if (!saveStats.empty() && !quiet)
      llvm::errs() << "slimc: wrote " << saveStats << "\n";
  }
  if (compress || calibration) {
    phases.start(compress ? "compression" : "instrumentation");
    PassManager pre(&context, ModuleOp::getOperationName());
    pre.enableTiming(timingRoot);
    if (failed(applyPassManagerCLOptions(pre)))
      return 1;
    if (std::string err = addCompression(pre, statsFile, /*part=*/false);
        !err.empty())
      return error(err);
    if (calibration)
      pre.addPass(slim::createSlimCalibratePass());
    if (failed(pre.run(*module)))
      return error("compression of " + inputPath + " failed");
  }
  if (!emitMlir.empty()) {
    llvm::Expected<mlir::slim::TempOutput> out =
        mlir::slim::TempOutput::create(emitMlir);
    if (!out)
      return error("cannot write " + emitMlir + ": " +
                   llvm::toString(out.takeError()));
    {
      llvm::raw_fd_ostream os(out->takeFD(), /*shouldClose=*/true);
      if (StringRef(emitMlir).ends_with(".mlirbc")) {
        if (failed(writeBytecodeToFile(*module, os)))
          return error("cannot write bytecode to " + emitMlir);
      } else {
        module->print(os);
      }
      os.close();
      if (os.has_error()) {
        os.clear_error();
        return error("error writing " + emitMlir);
      }
    }
    if (llvm::Error e = out->commit())
      return error(llvm::toString(std::move(e)));
  }

  if (!emitOnnx.empty()) {
    phases.start("ONNX export");
    FailureOr<slim::OnnxExportSummary> exported =
        slim::exportCompressedOnnx(*module, inputPath, emitOnnx, exportOptions);
    if (failed(exported))
      return error("cannot export " + inputPath + " as ONNX");
    if (!quiet) {
      const slim::OnnxExportSummary &e = *exported;
      llvm::errs() << llvm::formatv(
          "slimc: wrote {0} ({1} bytes{2}): {3} MatMulNBits, {4} "
          "DequantizeLinear",
          emitOnnx.getValue(), e.modelBytes,
          e.dataPath.empty()
              ? std::string()
              : llvm::formatv(" + {0}, {1} bytes", e.dataPath, e.dataBytes)
                    .str(),
          e.matMulNBits, e.dequantizeLinear);
      if (e.widened)
        llvm::errs() << ", " << e.widened
                     << " weights in wider codes (onnxruntime's MatMulNBits "
                        "takes 4 or 8 bits)";
      if (e.opsetRaisedFrom)
        llvm::errs() << ", opset raised from " << e.opsetRaisedFrom << " to 21";
      llvm::errs() << "\n";
    }
  }
  if (!compileModel) {
    phases.setSummary("wrote " + emitOnnx);
    return 0;
  }
  removeCreated.release();
  if (std::string err =
          compileModule(*module, outDir, !existed, inputPath, setup, phases);
      !err.empty())
    return error(err);
  // One line for people and scripts: what was written, how big.
  std::string written = "wrote " + outDir;
  for (const char *file : {"model.so", "model.weights"}) {
    llvm::SmallString<256> path(outDir);
    llvm::sys::path::append(path, file);
    uint64_t size = 0;
    if (!llvm::sys::fs::file_size(path, size))
      written += llvm::formatv(" {0} {1} bytes,", file, size).str();
  }
  if (!emitOnnx.empty())
    written += " and " + emitOnnx + ",";
  phases.setSummary(StringRef(written).drop_back());
  return 0;
}
