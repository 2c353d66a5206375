// test-device.cpp - device strings, the device probe and what asking for a missing device does.
// Written to hold on any machine: with no GPU (here, CI) device 0 is the missing one; with GPUs,
// the ordinal after the last.
#include <string>

#include "device.h"
#include "error.h"
#include "flotilla_engine.h"
#include "test-model.h"
#include "test.h"

using namespace fltest;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The status and message parse_device gives for text.
fl_status parse_status(const char* text, std::string* message = nullptr) {
    try {
        fl::parse_device(text);
        return FL_OK;
    } catch (const fl::Error& e) {
        if (message) *message = e.what();
        return e.status();
    }
}

} // namespace

TEST(device_strings_parse) {
    CHECK(!fl::parse_device("cpu").is_cuda());
    CHECK(!fl::parse_device("").is_cuda());
    CHECK(!fl::parse_device(nullptr).is_cuda());
    fl::Device d = fl::parse_device("cuda:0");
    CHECK(d.is_cuda() && d.index == 0 && d.name() == "cuda:0");
    d = fl::parse_device("cuda:7");
    CHECK(d.is_cuda() && d.index == 7);
    CHECK(fl::parse_device("cuda:1023").index == 1023);
    CHECK(fl::parse_device("cpu").name() == "cpu");
}

TEST(bad_device_strings_are_rejected_by_name) {
    for (const char* bad : {"gpu", "cuda", "cuda:", "cuda:-1", "cuda:01", "cuda:1024", "cuda:99999", "cuda:1x",
                            "CUDA:0", " cpu", "cuda:+1"}) {
        std::string msg;
        CHECK_MSG(parse_status(bad, &msg) == FL_INVALID_ARGUMENT, "'%s' was accepted", bad);
        CHECK_MSG(contains(msg, std::string("'") + bad + "'") && contains(msg, "cuda:N"), "%s", msg.c_str());
    }
}

TEST(device_count_comes_with_a_reason) {
    int n = fl_device_count();
    CHECK(n >= 0);
    std::string reason = fl_device_unavailable_reason();
    if (n == 0) {
        CHECK_MSG(!reason.empty(), "no devices and no reason");
        CHECK_MSG(contains(reason, "driver") || contains(reason, "without CUDA") || contains(reason, "CUDA"), "%s",
                  reason.c_str());
    } else {
        CHECK(reason.empty());
    }
    CHECK(fl_device_count() == n); // probed once
}

TEST(device_info_of_a_missing_device_fails_cleanly) {
    int n = fl_device_count();
    fl_device_info info;
    CHECK(fl_device_get_info(n, &info) == FL_DEVICE_UNAVAILABLE);
    CHECK_MSG(contains(fl_last_error(), "cuda:" + std::to_string(n)), "%s", fl_last_error());
    CHECK(fl_device_get_info(-1, &info) == FL_INVALID_ARGUMENT);
    CHECK(fl_device_get_info(0, nullptr) == FL_INVALID_ARGUMENT);
    for (int i = 0; i < n; i++) {
        REQUIRE(fl_device_get_info(i, &info) == FL_OK);
        CHECK(info.name[0] != 0 && info.total_bytes > 0 && info.free_bytes <= info.total_bytes);
        CHECK(info.compute_major >= 8 && info.multiprocessors > 0 && info.engine_bytes >= 0);
    }
    CHECK(std::string(fl_status_name(FL_DEVICE_UNAVAILABLE)) == "FL_DEVICE_UNAVAILABLE");
}

TEST(a_model_on_a_missing_cuda_device_fails_with_the_reason) {
    TempDir tmp;
    ModelSpec s;
    write_model(make_model(s, 5), tmp.path);
    int n = fl_device_count();
    std::string device = "cuda:" + std::to_string(n);
    fl_model_params p = fl_model_default_params();
    p.device = device.c_str();
    fl_model* model = nullptr;
    CHECK(fl_model_load(tmp.path.c_str(), &p, &model) == FL_DEVICE_UNAVAILABLE);
    CHECK(model == nullptr);
    std::string msg = fl_last_error();
    CHECK_MSG(contains(msg, device + " is not available"), "%s", msg.c_str());
    if (n == 0) CHECK_MSG(contains(msg, fl_device_unavailable_reason()), "%s", msg.c_str());

    p.device = "tpu:0";
    CHECK(fl_model_load(tmp.path.c_str(), &p, &model) == FL_INVALID_ARGUMENT);
    CHECK(contains(fl_last_error(), "'tpu:0'"));

    // The default and "cpu" load on the CPU.
    p.device = "cpu";
    REQUIRE(fl_model_load(tmp.path.c_str(), &p, &model) == FL_OK);
    fl_model_info info;
    REQUIRE(fl_model_get_info(model, &info) == FL_OK);
    CHECK(info.cuda_device == -1);
    fl_model_free(model);
    CHECK(std::string(fl_model_default_params().device) == "cpu");
}

TEST_MAIN()
