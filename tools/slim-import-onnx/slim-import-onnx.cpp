//===- slim-import-onnx.cpp - ONNX model to MLIR --------------------------===//
//
// Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
//
//   slim-import-onnx model.onnx -o model.mlir [--emit-bytecode]
//                    [--bind-dims batch=1,sequence=128]
//
// Errors name the file and node and exit with status 1; the output file is
// written to a temporary file and renamed, so a failed run leaves nothing.
//
//===----------------------------------------------------------------------===//

#include "lib/Import/Onnx/DiagnosticPrinter.h"
#include "lib/Import/Onnx/OnnxImporter.h"
#include "lib/Support/Version.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

static llvm::cl::OptionCategory category("slim-import-onnx options");

static llvm::cl::opt<std::string> inputPath(llvm::cl::Positional,
                                            llvm::cl::desc("<model.onnx>"),
                                            llvm::cl::cat(category));
static llvm::cl::opt<bool> listOperators(
    "list-operators",
    llvm::cl::desc("Print the supported operators (domain:OpType) and exit"),
    llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    outputPath("o", llvm::cl::desc("Output file ('-' for stdout)"),
               llvm::cl::value_desc("file"), llvm::cl::init("-"),
               llvm::cl::cat(category));
static llvm::cl::opt<bool>
    emitBytecode("emit-bytecode",
                 llvm::cl::desc("Write MLIR bytecode (.mlirbc); weights are "
                                "stored as raw blobs"),
                 llvm::cl::cat(category));
static llvm::cl::opt<std::string> bindDimsOpt(
    "bind-dims",
    llvm::cl::desc("Give symbolic input dimensions fixed sizes, e.g. "
                   "batch=1,sequence=128"),
    llvm::cl::value_desc("name=size,..."), llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    functionName("function-name",
                 llvm::cl::desc("Name of the imported function"),
                 llvm::cl::init("main"), llvm::cl::cat(category));
static llvm::cl::opt<bool>
    noOutput("no-output",
             llvm::cl::desc("Import and verify only; write nothing (for "
                            "checking and timing large models)"),
             llvm::cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::slim::initTool("slim-import-onnx");
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  llvm::cl::HideUnrelatedOptions({&category, &llvm::getColorCategory()});
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "slim-import-onnx: imports an ONNX model into MLIR (linalg, tensor, "
      "arith, math and the slim dialect)\n");

  if (listOperators) {
    for (const std::string &op : slim::getSupportedOnnxOperators())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (inputPath.empty()) {
    llvm::WithColor::error(llvm::errs(), "slim-import-onnx")
        << "no input model; usage: slim-import-onnx model.onnx -o out.mlir\n";
    return 1;
  }

  DialectRegistry registry;
  slim::registerOnnxImportDialects(registry);
  MLIRContext context(registry);
  context.allowUnregisteredDialects(false);

  slim::FileDiagnosticPrinter diagnostics(&context);

  slim::OnnxImportOptions options;
  options.functionName = functionName;
  if (!bindDimsOpt.empty()) {
    std::string error = slim::parseDimBindings(bindDimsOpt, options.boundDims);
    if (!error.empty()) {
      llvm::WithColor::error(llvm::errs(), "slim-import-onnx")
          << "--bind-dims: " << error << "\n";
      return 1;
    }
  }

  FailureOr<OwningOpRef<ModuleOp>> module =
      slim::importOnnxModel(&context, inputPath, options);
  if (failed(module) || diagnostics.sawError())
    return 1;
  if (noOutput)
    return 0;

  llvm::Error err = llvm::writeToOutput(
      outputPath, [&](llvm::raw_ostream &os) -> llvm::Error {
        if (emitBytecode) {
          if (failed(writeBytecodeToFile(module->get(), os)))
            return llvm::createStringError("cannot write bytecode");
        } else {
          module->get()->print(os, OpPrintingFlags());
        }
        return llvm::Error::success();
      });
  if (err) {
    llvm::WithColor::error(llvm::errs(), "slim-import-onnx")
        << outputPath << ": " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  return 0;
}
