func.func @mlp(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %w1 = arith.constant dense<"0x6CBF003E7F4607BEBDF2233FDFD5D63DA12109BFFD22B93E79E9A63FE673723FFE2734BF55F9A1BFEA8E1FBF6E45293D4ECD14C0EC0A60BE037A9FBFE0753BBF8F540BBF18F2A1BE3DC1D23E1471853F979E03BE46E8AE3F334A2ABF21F9B33ED249673F8589C03DF8553EBF32F66BBF0A5BEABED57A613E2B3B81BF1F3256BE"> : tensor<8x4xf32>
  %e1 = tensor.empty(%m) : tensor<?x4xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?x4xf32>) -> tensor<?x4xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<?x8xf32>, tensor<8x4xf32>) outs(%f1 : tensor<?x4xf32>) -> tensor<?x4xf32> loc("layers.0.up")
  %w2 = arith.constant dense<"0xE20B23BEDB740A3F9ACF5B3E69F3B53E506127BF70B904BE9EB2483FC028BF3F0F29A1BF41C8C13FA545AC3F0604483FBA66873E7EBAA0BE6CA0BA3FBFE9FA3FF99BE63F5255A83F91FAB63E2FAA9ABFFAF391BBBE0E283F07E9A4BF704DCA3E"> : tensor<4x6xf32>
  %e2 = tensor.empty(%m) : tensor<?x6xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<?x6xf32>) -> tensor<?x6xf32>
  %g = linalg.matmul ins(%h, %w2 : tensor<?x4xf32>, tensor<4x6xf32>) outs(%f2 : tensor<?x6xf32>) -> tensor<?x6xf32> loc("layers.0.mid")
  %w3 = arith.constant dense<"0x1817DC3EDB2F323F2D9197BF576529BF7174DFBE12BC95BF9BA3DE3F03E8FDBEB56EA83E9F6384BE3DAFCA3F9701A93F6623223F4E060DC0551C553D0F062F3FD081803F282F1EBFAB37E93FE203A9BFE75929BF705F6F3F7EED483D332700402D0B413E021922BF0150C1BEADAA8BBF068BA3BFA662213F48C7143F1AB4A53FD82D41BFAC34D83F7B2493BE3686C93F1B96DDBEA2483CBFBDC77F3EA806843FB2DF243E38E515BF16ADABBF0465B3BFD3AF003FD55D7D3FD73C28BECA8489BF"> : tensor<6x8xf32>
  %e3 = tensor.empty(%m) : tensor<?x8xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.matmul ins(%g, %w3 : tensor<?x6xf32>, tensor<6x8xf32>) outs(%f3 : tensor<?x8xf32>) -> tensor<?x8xf32> loc("lm_head")
  return %y : tensor<?x8xf32>
}
