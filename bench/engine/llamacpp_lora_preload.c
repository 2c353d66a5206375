// LD_PRELOAD shim that makes llama-batched-bench apply the LoRA adapters its --lora arguments name.
//
// llama-batched-bench parses --lora (a common llama.cpp argument) but creates its context with
// llama_init_from_model directly, never through common_init_from_params, so the adapter is neither
// loaded nor applied and a "--lora" row would time the base model. This shim wraps
// llama_init_from_model: after the real call it reads the process's own arguments
// (/proc/self/cmdline) and, for every "--lora FILE", loads FILE with llama_adapter_lora_init and
// applies it at scale 1 with llama_set_adapter_lora: llama.cpp's public API, as
// common_init_from_params does (which first clears the context's adapters, so a tool that applies
// --lora itself still ends up with each adapter once). The timed binary and its measurement stay
// llama.cpp's own. Any failure ends the process: a row without its adapter must not pass for one.
//
// Build: cc -O2 -shared -fPIC -I<llama.cpp>/include -I<llama.cpp>/ggml/include THIS.c -o X.so -ldl
// Use:   LD_PRELOAD=X.so llama-batched-bench ... --lora ADAPTER.gguf
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

typedef struct llama_context* (*init_fn)(struct llama_model*, struct llama_context_params);

static void die(const char* what, const char* arg) {
    fprintf(stderr, "llamacpp_lora_preload: %s%s\n", what, arg ? arg : "");
    exit(1);
}

struct llama_context* llama_init_from_model(struct llama_model* model, struct llama_context_params params) {
    init_fn real = (init_fn)dlsym(RTLD_NEXT, "llama_init_from_model");
    if (!real) die("llama_init_from_model not found in the loaded libllama", NULL);
    struct llama_context* ctx = real(model, params);
    if (!ctx) return ctx;

    FILE* f = fopen("/proc/self/cmdline", "rb");
    if (!f) die("cannot read /proc/self/cmdline", NULL);
    static char args[1 << 16];
    size_t n = fread(args, 1, sizeof(args) - 1, f);
    fclose(f);
    if (n == sizeof(args) - 1) die("command line too long", NULL);
    args[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(args + i) + 1) {
        const char* arg = args + i;
        if (!strcmp(arg, "--lora-scaled")) die("--lora-scaled is not handled; use --lora", NULL);
        if (strcmp(arg, "--lora") != 0) continue;
        i += strlen(arg) + 1;
        if (i >= n) die("--lora without a file", NULL);
        const char* path = args + i;
        struct llama_adapter_lora* adapter = llama_adapter_lora_init(model, path);
        if (!adapter) die("cannot load the adapter ", path);
        if (llama_set_adapter_lora(ctx, adapter, 1.0f) != 0) die("cannot apply the adapter ", path);
        fprintf(stderr, "llamacpp_lora_preload: applied %s at scale 1\n", path);
    }
    return ctx;
}
