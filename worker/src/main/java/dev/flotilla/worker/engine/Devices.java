package dev.flotilla.worker.engine;

import java.util.regex.Pattern;

/**
 * The devices the engine can run a model on: {@code cpu}, and {@code cuda:N} for each CUDA device
 * the engine sees. With none, {@link #cudaUnavailableReason()} says why (no NVIDIA driver, no GPU,
 * or an engine built without CUDA).
 */
public final class Devices {
  public static final String CPU = "cpu";
  private static final Pattern CUDA = Pattern.compile("cuda:(0|[1-9][0-9]{0,3})");

  private Devices() {}

  /** {@code cuda:N}. */
  public static String cuda(int ordinal) {
    return "cuda:" + ordinal;
  }

  /** Whether {@code device} is {@code cpu} or {@code cuda:N} (N a decimal ordinal below 1024). */
  public static boolean isValid(String device) {
    return CPU.equals(device)
        || (device != null
            && CUDA.matcher(device).matches()
            && Integer.parseInt(device.substring(5)) < 1024);
  }

  /** CUDA devices the engine sees; 0 without a driver, a GPU or CUDA in the engine build. */
  public static int cudaCount() {
    NativeEngine.ensureAvailable();
    return NativeEngine.deviceCount();
  }

  /** Why {@link #cudaCount()} is 0; empty when it is not. */
  public static String cudaUnavailableReason() {
    NativeEngine.ensureAvailable();
    return NativeEngine.deviceUnavailableReason();
  }

  /**
   * Name and memory of CUDA device {@code ordinal}.
   *
   * @throws DeviceUnavailableException when there is no such device
   */
  public static DeviceInfo cudaInfo(int ordinal) {
    NativeEngine.ensureAvailable();
    long[] v = new long[6];
    String name = NativeEngine.deviceInfo(ordinal, v);
    return new DeviceInfo(cuda(ordinal), name, v[0], v[1], v[2], v[3] + "." + v[4], (int) v[5]);
  }
}
