// Empty stand-in for <mma.h>: the TF32 kernel body is compiled only for sm_80+ and is not emulated.
#pragma once
