// Must compile (the control): render may use analyse, snapshot and util.
#include "analyse/analysis.h"
#include "render/report.h"
#include "snapshot/snapshot.h"
#include "util/format.h"
