// An mlir-opt of another project's own, with Slim's dialect and passes
// registered from the installed Slim (find_package(Slim)).
#include "slim/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::slim::registerAllSlimDialects(registry);
  mlir::slim::registerAllSlimPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "consumer-opt\n", registry));
}
