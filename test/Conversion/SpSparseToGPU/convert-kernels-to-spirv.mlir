// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-convert-kernels-to-spirv=use-64bit-index=true | FileCheck %s

// Integer atomics on global memory, which upstream's convert-gpu-to-spirv
// does not lower for OpenCL: device-scope OpAtomicIAdd, acquire-release over
// cross-workgroup memory; the fence that orders them on NVVM is implied by
// those semantics and dropped. The converted module goes inside the
// gpu.module, whose kernel becomes an empty declaration.
// CHECK-LABEL: gpu.module @m
// CHECK: spirv.module @__spv__m Physical64 OpenCL
// CHECK: spirv.func @k(%[[C:.*]]: !spirv.ptr<!spirv.array<3 x i32>, CrossWorkgroup>
// CHECK: %[[P:.*]] = spirv.AccessChain %[[C]]
// CHECK: %[[OLD:.*]] = spirv.AtomicIAdd <Device> <AcquireRelease|CrossWorkgroupMemory> %[[P]], %{{.*}} : !spirv.ptr<i32, CrossWorkgroup>
// CHECK-NOT: spirv.MemoryBarrier
// CHECK-NOT: llvm.fence
// CHECK: spirv.Store "CrossWorkgroup" %{{.*}}, %[[OLD]]
// CHECK: func.func @k(%{{.*}}: memref<3xi32>) attributes {gpu.kernel}
module attributes {gpu.container_module} {
  gpu.module @m [#spirv.target_env<#spirv.vce<v1.0, [Kernel, Addresses, Int64, Int8], []>, api=OpenCL, #spirv.resource_limits<>>] {
    gpu.func @k(%c: memref<3xi32>) kernel attributes {spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [32, 1, 1]>} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %v = arith.constant 5 : i32
      %old = memref.atomic_rmw addi %v, %c[%c1] : (i32, memref<3xi32>) -> i32
      llvm.fence syncscope("device") acq_rel
      memref.store %old, %c[%c0] : memref<3xi32>
      gpu.return
    }
  }
}

// -----

// Float atomics have no SPIR-V 1.0 form for OpenCL: the op stays illegal
// (spsparse-legalize-kernels-for-spirv says which schedule knob needs them).
module attributes {gpu.container_module} {
  gpu.module @m [#spirv.target_env<#spirv.vce<v1.0, [Kernel, Addresses, Int64, Int8], []>, api=OpenCL, #spirv.resource_limits<>>] {
    gpu.func @k(%c: memref<3xf32>) kernel attributes {spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [32, 1, 1]>} {
      %c1 = arith.constant 1 : index
      %v = arith.constant 5.0 : f32
      // expected-error @+1 {{failed to legalize operation 'memref.atomic_rmw'}}
      %old = memref.atomic_rmw addf %v, %c[%c1] : (f32, memref<3xf32>) -> f32
      gpu.return
    }
  }
}

// -----

// expected-error @+2 {{has no #spirv.target_env target (run gpu-spirv-attach-target first)}}
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{targets SPIR-V without the Kernel capability; dynaspa's SPIR-V path is OpenCL}}
  gpu.module @m [#spirv.target_env<#spirv.vce<v1.0, [Shader], []>, #spirv.resource_limits<>>] {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}
