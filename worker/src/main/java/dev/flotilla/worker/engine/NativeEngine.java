package dev.flotilla.worker.engine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The JNI surface of the native engine: static natives over primitives and direct buffers,
 * registered by the library's {@code JNI_OnLoad}. Use the handle classes ({@link Model}, {@link
 * EngineContext}, {@link Adapter}) rather than these.
 *
 * <p>The library is loaded once per class loader, from {@code -Dflotilla.engine.library=PATH} when
 * set, else extracted from {@code /native/linux-x86_64/libflotilla_engine.so} on the class path. A
 * JVM refuses one library file in two class loaders (Quarkus tests beside plain ones), so a second
 * loader gets a private copy. {@link #isAvailable()} and {@link #unavailabilityCause()} report the
 * outcome without throwing.
 */
public final class NativeEngine {
  public static final String LIBRARY_PROPERTY = "flotilla.engine.library";
  static final String RESOURCE = "/native/linux-x86_64/libflotilla_engine.so";

  private static final Throwable UNAVAILABILITY_CAUSE = load();

  private NativeEngine() {}

  /** True if the native library loaded and registered its natives. */
  public static boolean isAvailable() {
    return UNAVAILABILITY_CAUSE == null;
  }

  /** Why the engine is unavailable, or null if it is available. */
  public static Throwable unavailabilityCause() {
    return UNAVAILABILITY_CAUSE;
  }

  /** Throws an {@link UnsatisfiedLinkError} with the cause if the library is unavailable. */
  public static void ensureAvailable() {
    if (UNAVAILABILITY_CAUSE != null) {
      UnsatisfiedLinkError e =
          new UnsatisfiedLinkError("flotilla native engine unavailable: " + UNAVAILABILITY_CAUSE);
      e.initCause(UNAVAILABILITY_CAUSE);
      throw e;
    }
  }

  /** The kernel instruction set in use: avx512amx, avx512bf16, avx512, avx2 or scalar. */
  public static String instructionSet() {
    ensureAvailable();
    return isa();
  }

  /**
   * Whether BF16-weight models run with activations rounded to BF16 (vdpbf16ps or AMX tiles), so
   * their logits match an F32 reference within 1e-2 relative rather than 1e-4.
   */
  public static boolean roundsBf16Activations() {
    String isa = instructionSet();
    return isa.equals("avx512bf16") || isa.equals("avx512amx");
  }

  private static Throwable load() {
    try {
      String os = System.getProperty("os.name", "").toLowerCase();
      String arch = System.getProperty("os.arch", "");
      if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
        return new UnsupportedOperationException("no native engine for " + os + "/" + arch);
      }
      String path = System.getProperty(LIBRARY_PROPERTY);
      if (path != null && !path.isBlank()) {
        try {
          System.load(Path.of(path).toAbsolutePath().toString());
        } catch (UnsatisfiedLinkError e) {
          if (e.getMessage() == null || !e.getMessage().contains("another classloader")) {
            throw e;
          }
          loadCopy(Files.newInputStream(Path.of(path)));
        }
      } else {
        InputStream in = NativeEngine.class.getResourceAsStream(RESOURCE);
        if (in == null) {
          return new UnsatisfiedLinkError(
              RESOURCE + " is not on the class path and -D" + LIBRARY_PROPERTY + " is not set");
        }
        loadCopy(in);
      }
      isa(); // the natives are registered
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  private static void loadCopy(InputStream in) throws IOException {
    Path tmp = Files.createTempFile("libflotilla_engine", ".so");
    try (in) {
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      System.load(tmp.toString());
    } finally {
      Files.deleteIfExists(tmp); // mapped by the loader already
    }
  }

  // --- natives (see worker/src/main/cpp/jni/flotilla_jni.cpp) -----------------------------------

  static native String isa();

  static native int deviceCount();

  static native String deviceUnavailableReason();

  /**
   * Fills totalBytes, freeBytes, engineBytes, computeMajor, computeMinor, multiprocessors; returns
   * the name.
   */
  static native String deviceInfo(int index, long[] out);

  /** device: "cpu" or "cuda:N"; weightDtype: -1 (as stored) or 3 (quantize to int8). */
  static native long modelLoad(String dir, String device, int weightDtype);

  static native void modelFree(long model);

  /**
   * Fills vocab, hidden, intermediate, layers, heads, kvHeads, headDim, maxPositions, dtype,
   * cudaDevice (-1 on the CPU); returns weight bytes.
   */
  static native long modelInfo(long model, int[] out);

  static native long contextCreate(
      long model,
      int kvBlockSize,
      long kvBudgetBytes,
      int maxBatchTokens,
      int maxSequences,
      int maxLoraRank,
      int threads,
      int kvDtype);

  static native void contextFree(long context);

  /**
   * Fills blockSize, totalBlocks, freeBlocks, bytesPerBlock, reclaimableBlocks, cachedBlocks,
   * prefixLookups, prefixLookupTokens, prefixHitTokens, prefixEvictions.
   */
  static native void kvStats(long context, long[] out);

  /** Frees reclaimable cached blocks released at or before {@code notAfter}; returns how many. */
  static native int kvReclaim(long context, long notAfter, int maxBlocks);

  /** Adopts the cached prefix of {@code tokens[0 .. n)}; returns the positions reused. */
  static native int seqAdoptPrefix(long context, int seqId, int[] tokens, int n, long adapter);

  /** {@code (positions << 32) | sharedBlocks} the cache holds for {@code tokens[0 .. n)}. */
  static native long prefixLookup(long context, int[] tokens, int n, long adapter);

  static native void seqFree(long context, int seqId);

  static native void seqFork(long context, int srcSeqId, int dstSeqId);

  static native int seqLength(long context, int seqId);

  /** storage: {@link AdapterStorage#code()}. */
  static native long adapterLoad(long model, String dir, int storage);

  static native void adapterFree(long adapter);

  static native int adapterRank(long adapter);

  static native float adapterScale(long adapter);

  /** The dtype the adapter's weights are stored in: 0 F32, 2 BF16. */
  static native int adapterDtype(long adapter);

  /** Resident bytes of the adapter's weights. */
  static native long adapterBytes(long adapter);

  static native void decode(
      long context,
      int rows,
      ByteBuffer tokens,
      ByteBuffer seqIds,
      ByteBuffer positions,
      ByteBuffer adapters,
      ByteBuffer wantLogits,
      ByteBuffer logits,
      ByteBuffer wantHidden,
      ByteBuffer hidden);

  /**
   * Samples one token of a logits row ({@code fl_sample}) and, when {@code outTopTokens} is not
   * null, writes the row's {@code outTopTokens.length} most likely tokens and their logprobs
   * ({@code fl_top_logprobs}). Null arrays mean none: no history, no bias, no end tokens.
   *
   * @return (token << 32) | floatToRawIntBits(logprob)
   */
  static native long sample(
      ByteBuffer logits,
      long offsetFloats,
      int vocab,
      float temperature,
      int topK,
      float topP,
      long seed,
      long step,
      float presencePenalty,
      float frequencyPenalty,
      float repetitionPenalty,
      int[] tokens,
      int nTokens,
      int nPromptTokens,
      int[] biasTokens,
      float[] biasValues,
      int minTokens,
      int[] endTokens,
      int[] outTopTokens,
      float[] outTopLogprobs);

  /** Sets the row's disallowed logits to -inf (fl_mask_logits); allowedBits: one bit per token. */
  static native void maskLogits(ByteBuffer logits, long offsetFloats, int vocab, int[] allowedBits);
}
