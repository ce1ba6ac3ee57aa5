// version: the one place the release number lives.
#pragma once
#define RCPTGUARD_VERSION "0.9.0"
