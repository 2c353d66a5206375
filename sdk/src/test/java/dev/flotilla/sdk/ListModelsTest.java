package dev.flotilla.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ListModelsTest {
  private final TestGateway gateway = TestGateway.inProcess();
  private final FlotillaClient client = gateway.client();

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    gateway.close();
  }

  @Test
  void mapsModelsAndTheirAdapters() {
    gateway.service.onListModels =
        (request, responses, attempt) -> {
          responses.onNext(
              ListModelsResponse.newBuilder()
                  .addModels(
                      ModelInfo.newBuilder()
                          .setName("llama-3-8b")
                          .setMaxSequenceLength(8192)
                          .setReadyReplicas(2)
                          .addAdapters(
                              AdapterInfo.newBuilder()
                                  .setName("sql")
                                  .setVisibility(AdapterInfo.Visibility.PRIVATE)
                                  .setRank(16))
                          .addAdapters(
                              AdapterInfo.newBuilder()
                                  .setName("chat")
                                  .setVisibility(AdapterInfo.Visibility.PUBLIC)
                                  .setRank(8))
                          .addAdapters(AdapterInfo.newBuilder().setName("old").setRank(4)))
                  .addModels(
                      ModelInfo.newBuilder().setName("team-a/qwen2").setMaxSequenceLength(4096))
                  .build());
          responses.onCompleted();
        };

    List<ModelDescription> models = client.listModels();

    assertThat(models)
        .containsExactly(
            new ModelDescription(
                "llama-3-8b",
                List.of(
                    new AdapterDescription("sql", AdapterDescription.Visibility.PRIVATE, 16),
                    new AdapterDescription("chat", AdapterDescription.Visibility.PUBLIC, 8),
                    new AdapterDescription("old", AdapterDescription.Visibility.UNSPECIFIED, 4)),
                8192,
                2),
            new ModelDescription("team-a/qwen2", List.of(), 4096, 0));
  }
}
