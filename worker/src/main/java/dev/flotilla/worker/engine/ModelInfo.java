package dev.flotilla.worker.engine;

/**
 * Dimensions of a loaded model. {@code weightDtype}: F32, F16, BF16, INT8 or INT4 (AWQ / GPTQ);
 * {@code weightBytes}: the memory its weights hold (device memory on a GPU); {@code device}: {@code
 * cpu} or {@code cuda:N}.
 */
public record ModelInfo(
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int layers,
    int heads,
    int kvHeads,
    int headDim,
    int maxPositionEmbeddings,
    String weightDtype,
    long weightBytes,
    String device) {}
