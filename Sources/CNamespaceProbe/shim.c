// The C target needs one translation unit; everything is static inline in the header.
#include "CNamespaceProbe.h"
