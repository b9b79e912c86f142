#include <gtest/gtest.h>
#include "media/image.h"
TEST(Media, Placeholder) {}
