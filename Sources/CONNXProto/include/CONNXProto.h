// Umbrella header for the CONNXProto C target (imported from Swift as
// `import CONNXProto`). The bindings are generated from Protos/onnx.proto by
// scripts/regen-proto.sh; they need libprotobuf-c at link time.
#ifndef CONNXPROTO_H
#define CONNXPROTO_H

#include "onnx.pb-c.h"

#endif
