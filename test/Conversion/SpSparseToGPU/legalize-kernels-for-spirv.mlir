// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(gpu.module(spsparse-legalize-kernels-for-spirv))' | FileCheck %s

// Workgroup attributions become workgroup allocations at the kernel's entry,
// the work-group size an entry-point ABI, and vectors built from runtime
// scalars become insertion chains (llvm-spirv 15 miscompiles
// OpCompositeConstruct).
// CHECK-LABEL: gpu.func @k(
// CHECK-SAME: %[[X:.*]]: memref<8xf32>, %[[C:.*]]: i1)
// CHECK-NOT: workgroup(
// CHECK-SAME: spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<2xf32>
// CHECK-DAG: %[[BUF:.*]] = memref.alloc() : memref<16xf32, 3>
// CHECK: %[[A:.*]] = memref.load %[[X]]
// CHECK: %[[V0:.*]] = vector.insert %[[A]], %[[ZERO]] [0]
// CHECK: %[[V1:.*]] = vector.insert %[[A]], %[[V0]] [1]
// CHECK: vector.store %[[V1]], %[[BUF]]
// CHECK: vector.insert %[[C]], %{{.*}} [0] : i1 into vector<4xi1>
// CHECK-NOT: vector.from_elements
// CHECK-NOT: vector.broadcast
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%x: memref<8xf32>, %c: i1) workgroup(%s : memref<16xf32, 3>) kernel attributes {known_block_size = array<i32: 64, 1, 1>} {
      %c0 = arith.constant 0 : index
      %a = memref.load %x[%c0] : memref<8xf32>
      %v = vector.from_elements %a, %a : vector<2xf32>
      vector.store %v, %s[%c0] : memref<16xf32, 3>, vector<2xf32>
      %m = vector.broadcast %c : i1 to vector<4xi1>
      %z = arith.constant dense<0.0> : vector<4xf32>
      %w = vector.load %x[%c0] : memref<8xf32>, vector<4xf32>
      %sel = arith.select %m, %w, %z : vector<4xi1>, vector<4xf32>
      vector.store %sel, %x[%c0] : memref<8xf32>, vector<4xf32>
      gpu.return
    }
  }
}

// -----

// Split reductions add floats atomically; SPIR-V 1.0 for OpenCL cannot.
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%x: memref<8xf32>, %v: f32) kernel {
      %c0 = arith.constant 0 : index
      // expected-error @+1 {{adds floats atomically (a schedule with split_k > 1), which the OpenCL/SPIR-V path does not support}}
      %old = memref.atomic_rmw addf %v, %x[%c0] : (f32, memref<8xf32>) -> f32
      gpu.return
    }
  }
}

// -----

// Tensor-core fragments (a tf32 schedule) exist on NVIDIA only.
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%a: vector<4x1xf32>, %b: vector<2x1xf32>, %c: vector<2x2xf32>) kernel {
      // expected-error @+1 {{multiplies on NVIDIA tensor cores (a schedule with tf32), which the OpenCL/SPIR-V path does not have; use tf32 = false for OpenCL variants}}
      %d = nvgpu.mma.sync(%a, %b, %c) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
      gpu.return
    }
  }
}
