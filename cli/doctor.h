// `moat doctor`: what this kernel gives each protection layer, why a layer is missing, how to fix
// it, and which tier `moat run` will use. Exit code 0 for the full tier, 1 otherwise.
#pragma once

namespace moat::cli {

// Probes the kernel and prints a table grouped by layer (or, with `json`, one JSON object) on
// stdout. Returns the process exit code: 0 when the full tier is available, 1 otherwise.
int doctor_main(bool json);

}  // namespace moat::cli
