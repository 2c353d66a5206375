package dev.flotilla.worker.scheduler;

import dev.flotilla.worker.engine.Adapter;
import dev.flotilla.worker.engine.Batch;
import dev.flotilla.worker.engine.ContextParams;
import dev.flotilla.worker.engine.EngineContext;
import dev.flotilla.worker.engine.KvStats;
import dev.flotilla.worker.engine.LogitMask;
import dev.flotilla.worker.engine.Model;
import dev.flotilla.worker.engine.ModelFormatException;
import dev.flotilla.worker.engine.PrefixMatch;
import dev.flotilla.worker.engine.SampledToken;
import dev.flotilla.worker.engine.Sampler;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.engine.SequenceTokens;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The native engine behind {@link EngineBackend}: one context, one reused batch and logits buffer.
 */
public final class NativeEngineBackend implements EngineBackend {
  private final Model model;
  private final EngineContext context;
  private final Batch batch;
  private final ByteBuffer
      logits; // float32 [maxSequences, vocab]: one wanted row per sequence per step
  private final int vocab;
  private final int hiddenSize;
  private ByteBuffer hidden; // float32 [maxBatchTokens, hidden]: allocated on first use

  /** Creates a context on {@code model}; the backend does not own the model. */
  public NativeEngineBackend(Model model, ContextParams params) {
    this.model = model;
    this.context = model.createContext(params);
    this.batch = new Batch(params.maxBatchTokens());
    this.logits = context.allocateLogits(params.maxSequences());
    this.vocab = model.info().vocabSize();
    this.hiddenSize = model.info().hiddenSize();
  }

  public Model model() {
    return model;
  }

  public EngineContext context() {
    return context;
  }

  @Override
  public int vocabSize() {
    return vocab;
  }

  @Override
  public int maxSequences() {
    return context.params().maxSequences();
  }

  @Override
  public KvStats kvStats() {
    return context.kvStats();
  }

  @Override
  public void clearBatch() {
    batch.clear();
  }

  @Override
  public void addRow(
      int token, int seqId, int position, LoadedAdapter adapter, boolean wantLogits) {
    batch.add(
        token, seqId, position, adapter == null ? null : (Adapter) adapter.handle(), wantLogits);
  }

  @Override
  public void addRow(
      int token,
      int seqId,
      int position,
      LoadedAdapter adapter,
      boolean wantLogits,
      boolean wantHidden) {
    batch.add(
        token,
        seqId,
        position,
        adapter == null ? null : (Adapter) adapter.handle(),
        wantLogits,
        wantHidden);
  }

  @Override
  public int hiddenSize() {
    return hiddenSize;
  }

  @Override
  public float[] hidden(int hiddenRow) {
    float[] out = new float[hiddenSize];
    hidden
        .slice(hiddenRow * hiddenSize * 4, hiddenSize * 4)
        .order(hidden.order())
        .asFloatBuffer()
        .get(out);
    return out;
  }

  @Override
  public void decode() {
    if (batch.hiddenRows() > 0 && hidden == null) {
      hidden = context.allocateHidden(batch.capacity());
    }
    context.decode(batch, logits, batch.hiddenRows() > 0 ? hidden : null);
  }

  @Override
  public void maskLogits(int logitRow, int[] allowedBits) {
    LogitMask.apply(logits, logitRow, vocab, allowedBits);
  }

  @Override
  public SampledToken sample(int logitRow, SamplingParams params, SequenceTokens sequence) {
    return Sampler.sample(logits, logitRow, vocab, params, sequence);
  }

  @Override
  public void freeSequence(int seqId) {
    context.freeSequence(seqId);
  }

  @Override
  public void forkSequence(int srcSeqId, int dstSeqId) {
    context.forkSequence(srcSeqId, dstSeqId);
  }

  @Override
  public int adoptPrefix(int seqId, int[] tokens, int length, LoadedAdapter adapter) {
    return context.adoptPrefix(
        seqId, tokens, length, adapter == null ? null : (Adapter) adapter.handle());
  }

  @Override
  public PrefixMatch lookupPrefix(int[] tokens, int length, LoadedAdapter adapter) {
    return context.lookupPrefix(
        tokens, length, adapter == null ? null : (Adapter) adapter.handle());
  }

  @Override
  public int reclaimCachedBlocks(long notAfter, int maxBlocks) {
    return context.reclaimCachedBlocks(notAfter, maxBlocks);
  }

  @Override
  public LoadedAdapter loadAdapter(String name, Path dir) {
    Adapter adapter = model.loadAdapter(dir); // the engine checks the files and names what is wrong
    AdapterFiles files;
    try {
      files = AdapterFiles.read(dir);
    } catch (IOException e) {
      adapter.close();
      throw new ModelFormatException(e.getMessage());
    }
    // the admission budget counts what the engine holds: BF16 adapters on a BF16 / F16 model, else
    // F32
    return new LoadedAdapter(name, adapter, adapter.rank(), files.targetModules(), adapter.bytes());
  }

  @Override
  public void freeAdapter(LoadedAdapter adapter) {
    ((Adapter) adapter.handle()).close();
  }

  @Override
  public void close() {
    context.close();
  }
}
