// What this CPU can run, for the kernels that pick an instruction set at run
// time (PDQ, Hamming and vector search, the HOG detector, the ResNet). Each
// answer is looked up once and cached; on other architectures every answer
// is false and the portable code runs.
#pragma once

namespace takeback::cpu {

bool HasPopcnt();
bool HasAvx();
bool HasAvx2();
bool HasFma();
bool HasAvx512Vpopcntdq();  // AVX-512F and VPOPCNTDQ

}  // namespace takeback::cpu
