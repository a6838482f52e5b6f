// libFuzzer target: YAML text through the config loader and validator. Any input must end as
// a config or a list of positioned errors, never a crash, exception or hang.
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<ringway::proxy::ConfigError> errors;
  auto cfg = ringway::proxy::parse_config(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml", &errors);
  if (cfg == nullptr && errors.empty()) __builtin_trap();  // a rejection always says why
  return 0;
}
