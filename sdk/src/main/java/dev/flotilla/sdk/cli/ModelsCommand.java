package dev.flotilla.sdk.cli;

import dev.flotilla.sdk.AdapterDescription;
import dev.flotilla.sdk.FlotillaClient;
import dev.flotilla.sdk.ModelDescription;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** {@code models}: lists the models and adapters the caller may use, one per line. */
final class ModelsCommand implements CliCommand {

  @Override
  public int run(FlotillaClient client, PrintStream out, PrintStream err) {
    List<ModelDescription> models = client.listModels();
    if (models.isEmpty()) {
      err.println("no models available to this API key");
    }
    for (ModelDescription model : models) {
      out.printf(
          "model %s  max-sequence-length=%d  ready-replicas=%d%n",
          model.name(), model.maxSequenceLength(), model.readyReplicas());
      for (AdapterDescription adapter : model.adapters()) {
        out.printf(
            "  adapter %s  visibility=%s  rank=%d%n",
            adapter.name(), adapter.visibility().name().toLowerCase(Locale.ROOT), adapter.rank());
      }
    }
    return 0;
  }
}
