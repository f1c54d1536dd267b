func.func @bad(%w: tensor<100x64xf32, #slim.quant<i4, group = 128>>) {
  return
}
