package dev.flotilla.worker.app;

import dev.flotilla.worker.runtime.WorkerHolder;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready once the model is loaded and until draining starts. Not ready, with the reason in {@code
 * failure}, when the load failed: a missing GPU reads as {@code FLOTILLA_DEVICE (…) is cuda:0 but
 * the engine sees no GPU: …}. While an {@code hf://} or {@code s3://} model downloads, {@code
 * progress} says how far it has come ({@code hf://org/repo@main: 2/5 files, 1.2 GiB of 4.0 GiB, at
 * model-00002-of-00003.safetensors}).
 */
@Readiness
@ApplicationScoped
public class ModelReadinessCheck implements HealthCheck {
  @Inject WorkerHolder holder;

  @Override
  public HealthCheckResponse call() {
    return HealthCheckResponse.named("flotilla-model")
        .status(holder.serving())
        .withData("state", holder.state().name())
        .withData("model", holder.modelName())
        .withData("device", holder.runtime().map(r -> r.device()).orElse(""))
        .withData("failure", holder.failure().orElse(""))
        .withData("progress", holder.progress())
        .build();
  }
}
