// null_milter: the yardstick for rcptguard's benchmarks. A libmilter milter
// that registers the same callbacks and negotiates the same protocol steps as
// rcptguard, but answers without any lookup, by name alone, so that it refuses
// exactly what rcptguard refuses in the benchmarks: local parts starting with
// "nx" (milter_load's unknown users), ending in "nobody" (smtp-source floods)
// or "<even number>u" (smtp-source's normal mail, where odd ones exist) get
// the same kind of 550 reply; all others continue.
// Whatever it reaches is the ceiling of any libmilter-based design here.
//
//   null_milter -p inet:PORT@127.0.0.1 | unix:PATH
#include <libmilter/mfapi.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

char* c_str(const char* s) { return const_cast<char*>(s); }

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    *pf0 = f0 & SMFIF_SETSYMLIST;
    unsigned long steps =
        (SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA) & f1;
    steps |= f1 & (SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_RCPT_REJ);
    *pf1 = steps;
    *pf2 = 0;
    *pf3 = 0;
    smfi_setpriv(ctx, reinterpret_cast<void*>(steps));
    if (*pf0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_CONNECT, c_str("j"));
        smfi_setsymlist(ctx, SMFIM_ENVFROM, c_str("i {auth_authen}"));
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, c_str("i {rcpt_mailer}"));
        smfi_setsymlist(ctx, SMFIM_EOM, c_str("i"));
    }
    return SMFIS_CONTINUE;
}

unsigned long steps_of(SMFICTX* ctx) { return reinterpret_cast<unsigned long>(smfi_getpriv(ctx)); }

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR*) {
    return (steps_of(ctx) & SMFIP_NR_CONN) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat on_envfrom(SMFICTX* ctx, char**) { return (steps_of(ctx) & SMFIP_NR_MAIL) ? SMFIS_NOREPLY : SMFIS_CONTINUE; }

bool refused_by_name(const char* a) {
    const char* at = std::strchr(a, '@');
    std::size_t n = at ? static_cast<std::size_t>(at - a) : std::strlen(a);
    if (n >= 2 && std::strncmp(a, "nx", 2) == 0) return true;
    if (n >= 6 && std::strncmp(a + n - 6, "nobody", 6) == 0) return true;
    if (n >= 2 && a[n - 1] == 'u' && a[n - 2] >= '0' && a[n - 2] <= '9') return (a[n - 2] - '0') % 2 == 0;
    return false;
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    const char* a = argv && argv[0] ? argv[0] : "";
    if (*a == '<') ++a;
    if (refused_by_name(a)) {
        std::string text = std::string("<") + a;
        smfi_setreply(ctx, c_str("550"), c_str("5.1.1"),
                      c_str((text + ": Recipient address rejected: User unknown").c_str()));
        return SMFIS_REJECT;
    }
    return SMFIS_CONTINUE;
}

sfsistat on_eom(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_abort(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat on_close(SMFICTX* ctx) {
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
    const char* spec = nullptr;
    int c;
    while ((c = getopt(argc, argv, "p:")) != -1)
        if (c == 'p') spec = optarg;
    if (!spec) {
        std::fprintf(stderr, "usage: null_milter -p SOCKET\n");
        return 64;
    }
    struct smfiDesc d = {};
    d.xxfi_name = c_str("null_milter");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = SMFIF_SETSYMLIST;
    d.xxfi_connect = on_connect;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_eom = on_eom;
    d.xxfi_abort = on_abort;
    d.xxfi_close = on_close;
    d.xxfi_negotiate = on_negotiate;
    signal(SIGPIPE, SIG_IGN);
    if (smfi_register(d) != MI_SUCCESS || smfi_setconn(c_str(spec)) != MI_SUCCESS ||
        smfi_opensocket(true) != MI_SUCCESS) {
        std::fprintf(stderr, "null_milter: cannot listen on %s\n", spec);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
