// fake_libmilter: see fake_libmilter.hpp.
#include "tests/fakes/fake_libmilter.hpp"

#include <cstring>

namespace rcptguard::testing {
namespace {

smfiDesc g_desc{};

}  // namespace

const smfiDesc& registered_milter() { return g_desc; }

}  // namespace rcptguard::testing

extern "C" {

int smfi_register(struct smfiDesc d) {
    rcptguard::testing::g_desc = d;
    return MI_SUCCESS;
}

int smfi_setpriv(SMFICTX* ctx, void* p) {
    ctx->priv = p;
    return MI_SUCCESS;
}

void* smfi_getpriv(SMFICTX* ctx) { return ctx->priv; }

char* smfi_getsymval(SMFICTX* ctx, char* name) {
    auto it = ctx->macros.find(name);
    return it == ctx->macros.end() ? nullptr : it->second.data();
}

int smfi_setreply(SMFICTX* ctx, char* code, char* xcode, char* text) {
    ctx->reply_code = code ? code : "";
    ctx->reply_xcode = xcode ? xcode : "";
    ctx->reply_text = text ? text : "";
    return MI_SUCCESS;
}

int smfi_setsymlist(SMFICTX* ctx, int stage, char* list) {
    ctx->calls.push_back("setsymlist " + std::to_string(stage) + " " + (list ? list : ""));
    return MI_SUCCESS;
}

int smfi_chgfrom(SMFICTX* ctx, char* from, char*) {
    ctx->calls.push_back(std::string("chgfrom ") + from);
    return MI_SUCCESS;
}

int smfi_addrcpt(SMFICTX* ctx, char* rcpt) {
    ctx->calls.push_back(std::string("addrcpt ") + rcpt);
    return MI_SUCCESS;
}

int smfi_delrcpt(SMFICTX* ctx, char* rcpt) {
    ctx->calls.push_back(std::string("delrcpt ") + rcpt);
    return MI_SUCCESS;
}

int smfi_addheader(SMFICTX* ctx, char* name, char* value) {
    ctx->calls.push_back(std::string("addheader ") + name + ": " + value);
    return MI_SUCCESS;
}

int smfi_replacebody(SMFICTX* ctx, unsigned char*, int len) {
    ctx->calls.push_back("replacebody " + std::to_string(len));
    return MI_SUCCESS;
}

}  // extern "C"
