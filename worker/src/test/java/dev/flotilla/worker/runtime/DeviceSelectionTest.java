package dev.flotilla.worker.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.worker.engine.DeviceUnavailableException;
import org.junit.jupiter.api.Test;

/** FLOTILLA_DEVICE against the GPUs the engine sees: auto picks, a named GPU must be there. */
class DeviceSelectionTest {
  private static final String NO_DRIVER = "no usable NVIDIA driver (libcuda.so.1 is missing)";

  @Test
  void autoTakesTheFirstGpuWhenOneIsVisibleElseTheCpu() {
    assertThat(DeviceSelection.resolve("auto", 2, "")).isEqualTo("cuda:0");
    assertThat(DeviceSelection.resolve("auto", 0, NO_DRIVER)).isEqualTo("cpu");
  }

  @Test
  void cpuAndAnExistingGpuAreTakenAsGiven() {
    assertThat(DeviceSelection.resolve("cpu", 4, "")).isEqualTo("cpu");
    assertThat(DeviceSelection.resolve("cuda:3", 4, "")).isEqualTo("cuda:3");
  }

  @Test
  void aGpuOnAMachineWithoutOneFailsWithTheEnginesReasonAndNoCpuFallback() {
    assertThatThrownBy(() -> DeviceSelection.resolve("cuda:0", 0, NO_DRIVER))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessage(
            "FLOTILLA_DEVICE (flotilla.worker.device) is cuda:0 but the engine sees no GPU: "
                + NO_DRIVER
                + ". The worker does not fall back to the CPU.");
  }

  @Test
  void aGpuOrdinalPastTheLastNamesTheOnesThereAre() {
    assertThatThrownBy(() -> DeviceSelection.resolve("cuda:2", 2, ""))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageContaining("is cuda:2 but the engine sees 2 GPUs (cuda:0..cuda:1)");
    assertThatThrownBy(() -> DeviceSelection.resolve("cuda:1", 1, ""))
        .hasMessageContaining("is cuda:1 but the engine sees 1 GPU (cuda:0)");
  }
}
