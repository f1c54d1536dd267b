func.func @bad(%w: tensor<100x64xf32, #slim.quant<i4, channel = 2>>) {
  return
}
