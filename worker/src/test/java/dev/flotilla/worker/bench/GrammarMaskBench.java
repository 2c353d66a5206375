package dev.flotilla.worker.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.testkit.TokenizerFiles;
import dev.flotilla.worker.engine.LogitMask;
import dev.flotilla.worker.engine.Sampler;
import dev.flotilla.worker.engine.SamplingParams;
import dev.flotilla.worker.structured.GrammarConstraint;
import dev.flotilla.worker.structured.SchemaCompiler;
import dev.flotilla.worker.structured.TokenMasks;
import dev.flotilla.worker.text.TokenBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;

/**
 * What grammar masking adds per generated token at batch 32: each step takes 32 logits rows of a
 * byte-level vocabulary and samples one token per row (temperature 1) under a JSON Schema grammar;
 * a sequence whose value is whole starts over. The masking work (allowed-token lookup, {@code
 * fl_mask_logits}, advancing the automaton) is timed apart from the sampling it precedes, since the
 * sampler's own cost falls with the candidates the mask leaves. Also reports the schema's compile
 * time, a json_object grammar's, and the one-time cost of the token masks of the states the run
 * visited. Prints one JSON line. Usage: {@code GrammarMaskBench vocab seconds}.
 */
public final class GrammarMaskBench {
  static final String SCHEMA =
      "{\"type\":\"object\",\"properties\":{"
          + "\"name\":{\"type\":\"string\",\"maxLength\":12},"
          + "\"kind\":{\"enum\":[\"cat\",\"dog\",\"eel\"]},"
          + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":6}},"
          + "\"owner\":{\"type\":\"object\",\"properties\":{"
          + "\"age\":{\"type\":\"integer\"},\"vip\":{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"null\"}]}},"
          + "\"required\":[\"age\"]}},"
          + "\"required\":[\"name\",\"kind\",\"owner\"]}";
  static final int BATCH = 32;

  private GrammarMaskBench() {}

  public static void main(String[] args) throws Exception {
    int vocab = Integer.parseInt(args[0]);
    double seconds = Double.parseDouble(args[1]);
    Path dir = Files.createTempDirectory("grammar-bench");
    TokenizerFiles.write(dir, vocab, 2048);
    TokenBytes bytes = TokenBytes.load(dir, vocab);
    Set<Integer> eos = Set.of(TokenizerFiles.EOS_ID);

    long c0 = System.nanoTime();
    TokenMasks masks =
        new TokenMasks(
            SchemaCompiler.compile(new ObjectMapper().readTree(SCHEMA), "schema"), bytes, eos);
    double compileMs = (System.nanoTime() - c0) / 1e6;
    long o0 = System.nanoTime();
    int objectStates = SchemaCompiler.anyObject("response_format").states();
    double objectCompileMs = (System.nanoTime() - o0) / 1e6;

    ByteBuffer template =
        ByteBuffer.allocateDirect(BATCH * vocab * 4).order(ByteOrder.nativeOrder());
    Random random = new Random(42);
    for (int i = 0; i < BATCH * vocab; i++) {
      template.putFloat(i * 4, (float) random.nextGaussian() * 3);
    }
    ByteBuffer logits = ByteBuffer.allocateDirect(BATCH * vocab * 4).order(ByteOrder.nativeOrder());
    SamplingParams params = new SamplingParams(1f, 0, 1f, 7);

    // warm-up: computes the masks of the states the run visits
    long w0 = System.nanoTime();
    run(masks, template, logits, vocab, params, 2.0);
    double warmMs = (System.nanoTime() - w0) / 1e6;

    double[] ns = run(masks, template, logits, vocab, params, seconds);
    System.out.printf(
        "{\"vocab\":%d,\"batch\":%d,\"dfa_states\":%d,\"compile_ms\":%.1f,"
            + "\"json_object_states\":%d,\"json_object_compile_ms\":%.1f,"
            + "\"first_visits_and_warmup_ms\":%.1f,\"mask_ns_per_token\":%.0f,"
            + "\"sample_ns_per_token\":%.0f,\"tokens\":%.0f}%n",
        vocab,
        BATCH,
        masks.automaton().states(),
        compileMs,
        objectStates,
        objectCompileMs,
        warmMs,
        ns[0],
        ns[1],
        ns[2]);
  }

  /**
   * Steps for {@code seconds}; returns nanoseconds per token of the masking work and of sampling,
   * and the tokens sampled.
   */
  private static double[] run(
      TokenMasks masks,
      ByteBuffer template,
      ByteBuffer logits,
      int vocab,
      SamplingParams params,
      double seconds) {
    GrammarConstraint[] seqs = new GrammarConstraint[BATCH];
    for (int s = 0; s < BATCH; s++) {
      seqs[s] = new GrammarConstraint(masks);
    }
    long tokens = 0;
    long step = 0;
    long maskNanos = 0;
    long sampleNanos = 0;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    while (System.nanoTime() < end) {
      logits.clear();
      template.clear();
      logits.put(template);
      for (int s = 0; s < BATCH; s++) {
        long t0 = System.nanoTime();
        LogitMask.apply(logits, s, vocab, seqs[s].allowedTokens());
        long t1 = System.nanoTime();
        int token = Sampler.sample(logits, s, vocab, params, step * BATCH + s).token();
        long t2 = System.nanoTime();
        seqs[s].accept(token);
        if (masks.isEos(token)) {
          seqs[s] = new GrammarConstraint(masks);
        }
        long t3 = System.nanoTime();
        maskNanos += (t1 - t0) + (t3 - t2);
        sampleNanos += t2 - t1;
        tokens++;
      }
      step++;
    }
    return new double[] {(double) maskNanos / tokens, (double) sampleNanos / tokens, tokens};
  }
}
