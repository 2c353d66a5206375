package dev.flotilla.testkit;

import java.util.ArrayList;
import java.util.List;

/**
 * Every tensor of a generated checkpoint, in file order, with the distribution it is drawn from.
 *
 * <p>The scales keep a random network well-conditioned rather than imitate training: projections
 * use std 1/sqrt(fan_in) so each one maps unit-RMS inputs to unit-RMS outputs (attention scores
 * then have spread ~1 and softmax is neither uniform nor one-hot); norms sit near 1 with a little
 * noise so a kernel that ignores the norm weight is caught; lm_head is scaled so logits spread over
 * a few units and greedy decoding depends on context instead of always picking one token.
 */
final class WeightPlan {

  record PlannedTensor(TensorSpec spec, double mean, double std) {}

  private static final double NORM_NOISE = 0.05;
  private static final double HEAD_NORM_NOISE = 0.3;
  private static final double BIAS_STD = 0.1;
  private static final double LOGIT_SCALE = 2.0;

  private WeightPlan() {}

  static List<PlannedTensor> of(ModelConfig config, Dtype dtype) {
    int hidden = config.hiddenSize();
    List<PlannedTensor> plan = new ArrayList<>();
    // Tied: the embedding doubles as lm_head, so it takes lm_head's scale; untied rows are
    // unit-variance.
    double embedStd = config.tieWordEmbeddings() ? LOGIT_SCALE / Math.sqrt(hidden) : 1.0;
    plan.add(
        gaussian(LlamaTensorNames.EMBED_TOKENS, dtype, 0, embedStd, config.vocabSize(), hidden));
    // Gemma applies its norm weights as 1 + w: drawn around 0; its norms after attention and MLP
    // with wider noise, so that skipping one shows
    boolean gemma = config.architecture().gemma();
    double normMean = gemma ? 0.0 : 1.0;
    for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
      plan.add(
          gaussian(LlamaTensorNames.inputLayerNorm(layer), dtype, normMean, NORM_NOISE, hidden));
      for (Projection projection : config.architecture().projections()) {
        if (projection == Projection.GATE_PROJ || projection == Projection.GATE_UP_PROJ) {
          if (gemma) {
            plan.add(
                gaussian(
                    LlamaTensorNames.postAttentionLayerNorm(layer),
                    dtype,
                    0,
                    HEAD_NORM_NOISE,
                    hidden));
            plan.add(
                gaussian(
                    LlamaTensorNames.preFeedforwardLayerNorm(layer), dtype, 0, NORM_NOISE, hidden));
            plan.add(
                gaussian(
                    LlamaTensorNames.postFeedforwardLayerNorm(layer),
                    dtype,
                    0,
                    HEAD_NORM_NOISE,
                    hidden));
          } else {
            plan.add(
                gaussian(
                    LlamaTensorNames.postAttentionLayerNorm(layer),
                    dtype,
                    1.0,
                    NORM_NOISE,
                    hidden));
          }
        }
        int out = projection.outFeatures(config);
        int in = projection.inFeatures(config);
        plan.add(gaussian(projection.weightName(layer), dtype, 0, 1.0 / Math.sqrt(in), out, in));
        if (projection.hasBias(config)) {
          plan.add(gaussian(projection.biasName(layer), dtype, 0, BIAS_STD, out));
        }
        if (projection == Projection.O_PROJ && config.architecture().qkNorm()) {
          // wider noise than the layer norms: the per-head norm must not pass for a no-op
          int headDim = config.headDim();
          plan.add(
              gaussian(
                  LlamaTensorNames.queryNorm(layer), dtype, normMean, HEAD_NORM_NOISE, headDim));
          plan.add(
              gaussian(LlamaTensorNames.keyNorm(layer), dtype, normMean, HEAD_NORM_NOISE, headDim));
        }
      }
    }
    plan.add(gaussian(LlamaTensorNames.FINAL_NORM, dtype, normMean, NORM_NOISE, hidden));
    if (!config.tieWordEmbeddings()) {
      plan.add(
          gaussian(
              LlamaTensorNames.LM_HEAD,
              dtype,
              0,
              LOGIT_SCALE / Math.sqrt(hidden),
              config.vocabSize(),
              hidden));
    }
    return plan;
  }

  private static PlannedTensor gaussian(
      String name, Dtype dtype, double mean, double std, long... shape) {
    return new PlannedTensor(TensorSpec.of(name, dtype, shape), mean, std);
  }
}
