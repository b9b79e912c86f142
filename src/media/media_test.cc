// Tests for src/media. Golden checks use ../shared/testdata (skipped with a
// message when absent); everything else builds its inputs with the same
// libraries the decoders use, or by hand.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gif_lib.h>
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <libheif/heif.h>
#include <png.h>
#include <webp/encode.h>

#include "media/image.h"

// x265 (used only here, to make a HEIC to decode) keeps a global
// allocation that LeakSanitizer reports at exit; it is not ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:libx265\n"; }

namespace takeback::media {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::string ImagesDir() { return std::string(TAKEBACK_TESTDATA_DIR) + "/pdq/images"; }

#define SKIP_WITHOUT_TESTDATA()                                                                 \
  if (!std::filesystem::is_directory(ImagesDir())) {                                            \
    GTEST_SKIP() << "test data not found at " << ImagesDir() << " (set TAKEBACK_TESTDATA_DIR)"; \
  }

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  Bytes bytes(static_cast<std::size_t>(std::max<std::streamoff>(0, in.tellg())));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

std::uint64_t Fnv1a(const Bytes& bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  const std::uint8_t* p = bytes.data();  // raw pointer: fast enough unoptimised
  for (std::size_t i = 0; i < bytes.size(); ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}

Result<Image> Decode(const Bytes& bytes, DecodeOptions options = {}) { return DecodeImage(bytes, options); }

// A w x h RGB test pattern with distinct, non-grey pixels.
Bytes Pattern(int w, int h) {
  Bytes rgb(static_cast<std::size_t>(w * h * 3));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &rgb[static_cast<std::size_t>((y * w + x) * 3)];
      p[0] = static_cast<std::uint8_t>(x * 40 + 10);
      p[1] = static_cast<std::uint8_t>(y * 50 + 20);
      p[2] = static_cast<std::uint8_t>(200 - x * 10 - y * 7);
    }
  }
  return rgb;
}

// ---------------------------------------------------------------- encoders

Bytes EncodeJpeg(int w, int h, const Bytes& pixels, int components, const Bytes& app1 = {}, bool progressive = false) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 95, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  if (!app1.empty()) jpeg_write_marker(&cinfo, JPEG_APP0 + 1, app1.data(), static_cast<unsigned>(app1.size()));
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&pixels[static_cast<std::size_t>(cinfo.next_scanline) * w * components]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  Bytes result(out, out + size);
  std::free(out);
  return result;
}

void PngWrite(png_structp png, png_bytep data, size_t length) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

// `samples` holds rows of packed samples in the PNG's own layout (16-bit
// big-endian); `palette`/`trns` apply to palette images.
Bytes EncodePng(int w, int h, int color_type, int bit_depth, const Bytes& samples, bool interlace = false,
                const std::vector<png_color>& palette = {}, const Bytes& trns = {}) {
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, PngWrite, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), bit_depth, color_type,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  if (!trns.empty()) png_set_tRNS(png, info, trns.data(), static_cast<int>(trns.size()), nullptr);
  png_write_info(png, info);
  const std::size_t row_bytes = samples.size() / static_cast<std::size_t>(h);
  std::vector<png_bytep> rows(static_cast<std::size_t>(h));
  for (int y = 0; y < h; ++y) rows[static_cast<std::size_t>(y)] = const_cast<png_bytep>(&samples[y * row_bytes]);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

int GifWrite(GifFileType* gif, const GifByteType* data, int length) {
  auto* out = static_cast<Bytes*>(gif->UserData);
  out->insert(out->end(), data, data + length);
  return length;
}

// A GIF whose first frame is `w` x `h` at +left+top on a larger screen,
// followed (frames == 2) by a second frame that must be ignored.
Bytes EncodeGif(int w, int h, int left, int top, const Bytes& indexes, const std::vector<GifColorType>& colors,
                bool interlace = false, int frames = 2) {
  Bytes out;
  int error = 0;
  GifFileType* gif = EGifOpen(&out, GifWrite, &error);
  ColorMapObject* map = GifMakeMapObject(static_cast<int>(colors.size()), colors.data());
  EGifPutScreenDesc(gif, w + left + 3, h + top + 2, 8, 0, map);
  for (int frame = 0; frame < frames; ++frame) {
    EGifPutImageDesc(gif, left, top, w, h, interlace && frame == 0, nullptr);
    Bytes row(static_cast<std::size_t>(w));
    for (int y = 0; y < h; ++y) {
      // An interlaced frame is written in pass order.
      int src_y = y;
      if (interlace && frame == 0) {
        static constexpr int kStart[] = {0, 4, 2, 1};
        static constexpr int kStep[] = {8, 8, 4, 2};
        int n = y;
        for (int pass = 0; pass < 4; ++pass) {
          const int count = h > kStart[pass] ? (h - kStart[pass] + kStep[pass] - 1) / kStep[pass] : 0;
          if (n < count) {
            src_y = kStart[pass] + n * kStep[pass];
            break;
          }
          n -= count;
        }
      }
      for (int x = 0; x < w; ++x) row[static_cast<std::size_t>(x)] = frame == 0 ? indexes[src_y * w + x] : 0;
      EGifPutLine(gif, row.data(), w);
    }
  }
  GifFreeMapObject(map);
  EGifCloseFile(gif, &error);
  return out;
}

heif_error HeifWrite(heif_context*, const void* data, size_t size, void* userdata) {
  auto* out = static_cast<Bytes*>(userdata);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
  return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
}

// A HEIC (or AVIF) made with libheif, or empty when this libheif has no
// encoder for it.
Bytes EncodeHeif(int w, int h, const Bytes& rgb, heif_compression_format format) {
  Bytes out;
  heif_context* context = heif_context_alloc();
  heif_encoder* encoder = nullptr;
  if (heif_context_get_encoder_for_format(context, format, &encoder).code == heif_error_Ok) {
    heif_image* image = nullptr;
    heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &image);
    heif_image_add_plane(image, heif_channel_interleaved, w, h, 8);
    int stride = 0;
    std::uint8_t* plane = heif_image_get_plane(image, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; ++y) std::memcpy(plane + y * stride, &rgb[static_cast<std::size_t>(y * w * 3)], w * 3);
    heif_encoder_set_lossy_quality(encoder, 90);
    if (heif_context_encode_image(context, image, encoder, nullptr, nullptr).code == heif_error_Ok) {
      heif_writer writer{1, HeifWrite};
      (void)heif_context_write(context, &writer, &out);
    }
    heif_image_release(image);
    heif_encoder_release(encoder);
  }
  heif_context_free(context);
  return out;
}

void PutLe(Bytes* b, std::uint32_t v, int n) {
  for (int i = 0; i < n; ++i) b->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// A BMP with a 40-byte header; `raw(x, y)` gives the pixel's stored value
// (palette index, or the packed 16/24/32-bit value). Row y = 0 is the top.
Bytes EncodeBmp(int w, int h, int bpp, bool top_down, std::uint32_t compression,
                const std::vector<std::uint32_t>& palette_bgr, const std::vector<std::uint32_t>& masks,
                const std::function<std::uint32_t(int, int)>& raw) {
  const std::size_t stride = (static_cast<std::size_t>(w) * bpp + 31) / 32 * 4;
  const std::size_t offset = 14 + 40 + masks.size() * 4 + palette_bgr.size() * 4;
  Bytes b;
  b.push_back('B');
  b.push_back('M');
  PutLe(&b, static_cast<std::uint32_t>(offset + stride * h), 4);
  PutLe(&b, 0, 4);
  PutLe(&b, static_cast<std::uint32_t>(offset), 4);
  PutLe(&b, 40, 4);
  PutLe(&b, static_cast<std::uint32_t>(w), 4);
  PutLe(&b, static_cast<std::uint32_t>(top_down ? -h : h), 4);
  PutLe(&b, 1, 2);
  PutLe(&b, static_cast<std::uint32_t>(bpp), 2);
  PutLe(&b, compression, 4);
  PutLe(&b, static_cast<std::uint32_t>(stride * h), 4);
  PutLe(&b, 2835, 4);
  PutLe(&b, 2835, 4);
  PutLe(&b, static_cast<std::uint32_t>(palette_bgr.size()), 4);
  PutLe(&b, 0, 4);
  for (std::uint32_t m : masks) PutLe(&b, m, 4);
  for (std::uint32_t c : palette_bgr) PutLe(&b, c, 4);
  for (int row = 0; row < h; ++row) {
    const int y = top_down ? row : h - 1 - row;
    Bytes line(stride, 0);
    for (int x = 0; x < w; ++x) {
      const std::uint32_t v = raw(x, y);
      const std::size_t bit = static_cast<std::size_t>(x) * bpp;
      if (bpp < 8) {
        line[bit / 8] |= static_cast<std::uint8_t>(v << (8 - bpp - bit % 8));
      } else {
        for (int k = 0; k < bpp / 8; ++k) line[bit / 8 + k] = static_cast<std::uint8_t>(v >> (8 * k));
      }
    }
    b.insert(b.end(), line.begin(), line.end());
  }
  return b;
}

// An EXIF APP1 payload holding only IFD0 with Orientation.
Bytes ExifOrientation(int orientation, bool big_endian) {
  Bytes b = {'E', 'x', 'i', 'f', 0, 0};
  auto put16 = [&](std::uint32_t v) {
    if (big_endian) {
      b.push_back(static_cast<std::uint8_t>(v >> 8));
      b.push_back(static_cast<std::uint8_t>(v));
    } else {
      b.push_back(static_cast<std::uint8_t>(v));
      b.push_back(static_cast<std::uint8_t>(v >> 8));
    }
  };
  auto put32 = [&](std::uint32_t v) {
    if (big_endian) {
      put16(v >> 16);
      put16(v & 0xFFFF);
    } else {
      put16(v & 0xFFFF);
      put16(v >> 16);
    }
  };
  b.push_back(big_endian ? 'M' : 'I');
  b.push_back(big_endian ? 'M' : 'I');
  put16(42);
  put32(8);
  put16(1);       // one entry
  put16(0x0112);  // Orientation
  put16(3);       // SHORT
  put32(1);       // count
  put16(static_cast<std::uint32_t>(orientation));
  put16(0);
  put32(0);  // no next IFD
  return b;
}

// -------------------------------------------------------------- sniffing

TEST(SniffTest, RecognisesMagicBytes) {
  auto sniff = [](std::string_view s) {
    return SniffImageFormat({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(sniff(std::string_view("\xFF\xD8\xFF\xE0", 4)), ImageFormat::kJpeg);
  EXPECT_EQ(sniff("\x89PNG\r\n\x1A\n...."), ImageFormat::kPng);
  EXPECT_EQ(sniff("GIF89a......"), ImageFormat::kGif);
  EXPECT_EQ(sniff("GIF87a......"), ImageFormat::kGif);
  EXPECT_EQ(sniff(std::string_view("RIFF\x10\0\0\0WEBPVP8 ", 16)), ImageFormat::kWebp);
  EXPECT_EQ(sniff(std::string_view("BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", 18)), ImageFormat::kBmp);
  EXPECT_EQ(sniff(std::string_view("\0\0\0\x18"
                                   "ftypheic\0\0\0\0mif1heic",
                                   24)),
            ImageFormat::kHeif);
  EXPECT_EQ(sniff(std::string_view("\0\0\0\x1c"
                                   "ftypavif\0\0\0\0avifmif1miaf",
                                   28)),
            ImageFormat::kHeif);
  EXPECT_EQ(sniff(std::string_view("\0\0\0\x14"
                                   "ftypisom\0\0\0\0mp41",
                                   20)),
            ImageFormat::kUnknown);
  EXPECT_EQ(sniff("BMW is a car maker and this is text"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff("hello"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff(""), ImageFormat::kUnknown);
  EXPECT_EQ(ImageFormatName(ImageFormat::kWebp), "webp");
  EXPECT_EQ(ImageFormatName(ImageFormat::kUnknown), "unknown");
}

TEST(DecodeTest, RefusesNonImages) {
  Result<Image> empty = Decode({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), ErrorCode::kUnsupported);

  const std::string text = "This is a plain text file, not an image.\n";
  Result<Image> from_text = Decode(Bytes(text.begin(), text.end()));
  ASSERT_FALSE(from_text.ok());
  EXPECT_EQ(from_text.status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(from_text.status().message(), "not an image (unrecognised format)");

  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    Bytes noise(static_cast<std::size_t>(rng() % 5000));
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
    EXPECT_FALSE(Decode(noise).ok());
  }
}

// ------------------------------------------------- golden: ImageMagick

struct Golden {
  const char* file;
  int width;
  int height;
  int channels;
  std::uint64_t fnv;  // FNV-1a of the pixels of `convert FILE pnm:-` (PBM expanded to 0/255)
};

// Every file's pixels are byte-identical to ImageMagick 6.9.11 Q16's.
constexpr Golden kGolden[] = {
    {"bridge-1-original.jpg", 1600, 1004, 3, 0x3c78d666b658142eULL},
    {"bridge-2-rotate-90.jpg", 1004, 1600, 3, 0xc2bf16887a3cae9cULL},
    {"bridge-3-rotate-180.jpg", 1600, 1004, 3, 0xc823c72348ce476eULL},
    {"bridge-4-rotate-270.jpg", 1004, 1600, 3, 0xf35d27de15662295ULL},
    {"bridge-5-flipx.jpg", 1600, 1004, 3, 0xafef9e85f15cb086ULL},
    {"bridge-6-flipy.jpg", 1600, 1004, 3, 0x457910bf4883d86bULL},
    {"bridge-7-flip-plus-1.jpg", 1004, 1600, 3, 0x759fc65093ad4c20ULL},
    {"bridge-8-flip-minus-1.jpg", 1004, 1600, 3, 0x10c8110db29dcb49ULL},
    {"c.png", 1432, 812, 3, 0xb6d4340ad99dfb1eULL},
    {"exif-rotn-1.jpg", 4032, 3024, 3, 0xd14772c32fd5601cULL},
    {"exif-rotn-6.jpg", 4032, 3024, 3, 0xee987e2290f98dc9ULL},
    {"pen-and-coaster.png", 924, 735, 3, 0x87db5c896b996dfdULL},
    {"q0003.jpg", 256, 256, 3, 0xa5eb52187d75477aULL},
    {"q0004.jpg", 256, 256, 3, 0x9cbd6f5f02924d96ULL},
    {"q0122.jpg", 256, 256, 3, 0x87a19f45d8cb6549ULL},
    {"q0291.jpg", 256, 256, 3, 0x07e85ada80c1a636ULL},
    {"q0746.jpg", 256, 256, 3, 0xadee14f290821b12ULL},
    {"q1050.jpg", 256, 256, 3, 0x26396cb61f1c4cf1ULL},
    {"q2821.jpg", 256, 256, 1, 0x363b970bd7740051ULL},
    {"small.jpg", 224, 399, 1, 0xd0b51a8ffecaae45ULL},
    {"wee.jpg", 34, 42, 3, 0x311fd40104bc4ef3ULL},
    {"modes/1.png", 1600, 1004, 1, 0x9ab67309c9b30196ULL},
    {"modes/CMYK.jpg", 1600, 1004, 3, 0x4a876b518624e674ULL},
    {"modes/F.webp", 1600, 1004, 3, 0xa35ea65f154917bcULL},
    {"modes/HSV.webp", 1600, 1004, 3, 0xf06ae796d5cb9057ULL},
    {"modes/I.webp", 1600, 1004, 3, 0xe526b81d719d498aULL},
    {"modes/L.png", 1600, 1004, 1, 0x15f32968ed70abcaULL},
    {"modes/LA.png", 1600, 1004, 1, 0x15f32968ed70abcaULL},
    {"modes/LAB.webp", 1600, 1004, 3, 0xae93516bedd5b6f4ULL},
    {"modes/P.png", 1600, 1004, 3, 0x1bde108d7524e648ULL},
    {"modes/PA.webp", 1600, 1004, 3, 0xd1178bb860c771a5ULL},
    {"modes/RGB.jpg", 1600, 1004, 3, 0xdd8d975431f00c0eULL},
    {"modes/RGBA.png", 1600, 1004, 3, 0x3c78d666b658142eULL},
    {"modes/YCbCr.jpg", 1600, 1004, 3, 0x7d58e54d183db1d6ULL},
    {"modes/original.jpg", 1600, 1004, 3, 0x3c78d666b658142eULL},
};

TEST(GoldenTest, PixelsMatchImageMagick) {
  SKIP_WITHOUT_TESTDATA();
  for (const Golden& g : kGolden) {
    SCOPED_TRACE(g.file);
    Result<Image> image = Decode(ReadFile(ImagesDir() + "/" + g.file));
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->width, g.width);
    EXPECT_EQ(image->height, g.height);
    EXPECT_EQ(image->channels, g.channels);
    EXPECT_EQ(image->pixels.size(), static_cast<std::size_t>(g.width) * g.height * g.channels);
    EXPECT_EQ(Fnv1a(image->pixels), g.fnv);
  }
}

TEST(GoldenTest, FacesDecode) {
  SKIP_WITHOUT_TESTDATA();
  const std::string dir = std::string(TAKEBACK_TESTDATA_DIR) + "/face";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    Result<Image> image = Decode(ReadFile(entry.path().string()));
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->channels, 3);
    ++count;
  }
  EXPECT_GE(count, 7);
}

TEST(GoldenTest, ExifOrientationOnlyWhenAsked) {
  SKIP_WITHOUT_TESTDATA();
  const Bytes bytes = ReadFile(ImagesDir() + "/exif-rotn-6.jpg");
  Result<Image> plain = Decode(bytes);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->width, 4032);
  EXPECT_EQ(plain->height, 3024);
  DecodeOptions orient;
  orient.auto_orient = true;
  Result<Image> turned = Decode(bytes, orient);
  ASSERT_TRUE(turned.ok());
  ASSERT_EQ(turned->width, 3024);
  ASSERT_EQ(turned->height, 4032);
  // Orientation 6 (rotate 90 clockwise): out(x, y) = in(y, h - 1 - x).
  for (int y : {0, 1000, 4031}) {
    for (int x : {0, 1234, 3023}) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(turned->pixels[(static_cast<std::size_t>(y) * 3024 + x) * 3 + c],
                  plain->pixels[(static_cast<std::size_t>(3023 - x) * 4032 + y) * 3 + c]);
      }
    }
  }
  // Orientation 1 stays as it is.
  Result<Image> upright = Decode(ReadFile(ImagesDir() + "/exif-rotn-1.jpg"), orient);
  ASSERT_TRUE(upright.ok());
  EXPECT_EQ(upright->width, 4032);
}

// -------------------------------------------------- generated images

TEST(JpegTest, BaselineProgressiveAndGrey) {
  const Bytes rgb = Pattern(8, 6);
  for (bool progressive : {false, true}) {
    Result<Image> image = Decode(EncodeJpeg(8, 6, rgb, 3, {}, progressive));
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->width, 8);
    EXPECT_EQ(image->height, 6);
    EXPECT_EQ(image->channels, 3);
  }
  Result<Image> grey = Decode(EncodeJpeg(5, 4, Bytes(20, 99), 1));
  ASSERT_TRUE(grey.ok());
  EXPECT_EQ(grey->channels, 1);
  EXPECT_EQ(grey->pixels, Bytes(20, 99));
  // Colour JPEG of a grey picture: ImageMagick writes PGM, so one channel.
  Bytes grey_rgb(8 * 8 * 3, 128);
  Result<Image> collapsed = Decode(EncodeJpeg(8, 8, grey_rgb, 3));
  ASSERT_TRUE(collapsed.ok());
  EXPECT_EQ(collapsed->channels, 1);
}

TEST(JpegTest, FastPathScalesInTheDctDomain) {
  const Bytes jpeg = EncodeJpeg(200, 120, Bytes(200 * 120 * 3, 90), 3);
  DecodeOptions fast;
  fast.jpeg_fast_min_side = 50;  // 3/8 keeps both sides >= 50: 75x45 is too small, so 4/8
  Result<Image> image = Decode(jpeg, fast);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 100);
  EXPECT_EQ(image->height, 60);
  fast.jpeg_fast_min_side = 1000;  // larger than the image: full size
  image = Decode(jpeg, fast);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->width, 200);
  EXPECT_EQ(image->height, 120);
}

TEST(JpegTest, AllEightOrientations) {
  const int w = 5;
  const int h = 3;
  const Bytes rgb = Pattern(w, h);
  Result<Image> base = Decode(EncodeJpeg(w, h, rgb, 3, ExifOrientation(1, false)));
  ASSERT_TRUE(base.ok());
  DecodeOptions orient;
  orient.auto_orient = true;
  for (int o = 1; o <= 8; ++o) {
    for (bool big_endian : {false, true}) {
      SCOPED_TRACE("orientation " + std::to_string(o) + (big_endian ? " MM" : " II"));
      const Bytes jpeg = EncodeJpeg(w, h, rgb, 3, ExifOrientation(o, big_endian));
      Result<Image> unturned = Decode(jpeg);
      ASSERT_TRUE(unturned.ok());
      EXPECT_EQ(unturned->pixels, base->pixels);  // default: EXIF ignored
      Result<Image> image = Decode(jpeg, orient);
      ASSERT_TRUE(image.ok());
      const bool swapped = o >= 5;
      ASSERT_EQ(image->width, swapped ? h : w);
      ASSERT_EQ(image->height, swapped ? w : h);
      for (int y = 0; y < image->height; ++y) {
        for (int x = 0; x < image->width; ++x) {
          int sx = x;
          int sy = y;
          switch (o) {
            case 2:
              sx = w - 1 - x;
              break;
            case 3:
              sx = w - 1 - x;
              sy = h - 1 - y;
              break;
            case 4:
              sy = h - 1 - y;
              break;
            case 5:
              sx = y;
              sy = x;
              break;
            case 6:
              sx = y;
              sy = h - 1 - x;
              break;
            case 7:
              sx = w - 1 - y;
              sy = h - 1 - x;
              break;
            case 8:
              sx = w - 1 - y;
              sy = x;
              break;
            default:
              break;
          }
          for (int c = 0; c < 3; ++c) {
            ASSERT_EQ(image->pixels[static_cast<std::size_t>((y * image->width + x) * 3 + c)],
                      base->pixels[static_cast<std::size_t>((sy * w + sx) * 3 + c)]);
          }
        }
      }
    }
  }
}

TEST(JpegTest, DamagedExifIsIgnored) {
  DecodeOptions orient;
  orient.auto_orient = true;
  Bytes exif = ExifOrientation(6, false);
  std::mt19937 rng(3);
  for (int i = 0; i < 60; ++i) {
    Bytes broken = exif;
    broken.resize(rng() % (exif.size() + 1));
    for (std::size_t k = 6; k < broken.size(); ++k) {
      if (rng() % 4 == 0) broken[k] = static_cast<std::uint8_t>(rng());
    }
    if (broken.empty()) continue;
    Result<Image> image = Decode(EncodeJpeg(4, 2, Pattern(4, 2), 3, broken), orient);
    ASSERT_TRUE(image.ok());
    EXPECT_EQ(image->width * image->height, 8);
  }
}

TEST(PngTest, PaletteGreyAlphaSixteenBitInterlaced) {
  // RGB, interlaced: exact pixels back.
  const Bytes rgb = Pattern(7, 9);
  Result<Image> interlaced = Decode(EncodePng(7, 9, PNG_COLOR_TYPE_RGB, 8, rgb, true));
  ASSERT_TRUE(interlaced.ok()) << interlaced.status().ToString();
  EXPECT_EQ(interlaced->channels, 3);
  EXPECT_EQ(interlaced->pixels, rgb);

  // RGBA: alpha dropped, colour kept (even where fully transparent).
  Bytes rgba;
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgba.insert(rgba.end(), {rgb[i], rgb[i + 1], rgb[i + 2], static_cast<std::uint8_t>(i % 2 ? 0 : 255)});
  }
  Result<Image> alpha = Decode(EncodePng(7, 9, PNG_COLOR_TYPE_RGBA, 8, rgba));
  ASSERT_TRUE(alpha.ok());
  EXPECT_EQ(alpha->pixels, rgb);

  // Palette with tRNS.
  const std::vector<png_color> palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 8, 7}};
  const Bytes indexes = {0, 1, 2, 3, 3, 2};
  Result<Image> paletted = Decode(EncodePng(3, 2, PNG_COLOR_TYPE_PALETTE, 8, indexes, false, palette, {0, 128}));
  ASSERT_TRUE(paletted.ok());
  EXPECT_EQ(paletted->pixels, (Bytes{255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7, 9, 8, 7, 0, 0, 255}));

  // Grey + alpha, 16-bit: round(v / 257).
  const Bytes grey16 = {0x00, 0x00, 0xFF, 0xFF, 0x2B, 0xF9, 0x00, 0x00, 0xFF, 0xFF, 0x80, 0x80, 0x00, 0x80, 0x12, 0x34};
  Result<Image> deep = Decode(EncodePng(2, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 16, grey16));
  ASSERT_TRUE(deep.ok()) << deep.status().ToString();
  EXPECT_EQ(deep->channels, 1);
  EXPECT_EQ(deep->pixels, (Bytes{0, 44, 255, 0}));  // 0x2BF9 = 11257 -> 43.8 -> 44

  // 1-bit grey: 0 / 255, one channel.
  Result<Image> bilevel = Decode(EncodePng(8, 1, PNG_COLOR_TYPE_GRAY, 1, Bytes{0xA5}));
  ASSERT_TRUE(bilevel.ok());
  EXPECT_EQ(bilevel->pixels, (Bytes{255, 0, 255, 0, 0, 255, 0, 255}));
}

TEST(WebpTest, LosslessAndLossy) {
  const Bytes rgb = Pattern(6, 5);
  std::uint8_t* out = nullptr;
  std::size_t size = WebPEncodeLosslessRGB(rgb.data(), 6, 5, 18, &out);
  ASSERT_GT(size, 0U);
  Bytes lossless(out, out + size);
  WebPFree(out);
  Result<Image> image = Decode(lossless);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->channels, 3);
  EXPECT_EQ(image->pixels, rgb);

  size = WebPEncodeRGB(rgb.data(), 6, 5, 18, 90, &out);
  ASSERT_GT(size, 0U);
  Bytes lossy(out, out + size);
  WebPFree(out);
  Result<Image> lossy_image = Decode(lossy);
  ASSERT_TRUE(lossy_image.ok());
  EXPECT_EQ(lossy_image->width, 6);
  EXPECT_EQ(lossy_image->height, 5);
}

TEST(GifTest, FirstFrameRectangleWithPalette) {
  const std::vector<GifColorType> colors = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
  const int w = 4;
  const int h = 11;  // enough rows for every interlace pass
  Bytes indexes(static_cast<std::size_t>(w * h));
  for (std::size_t i = 0; i < indexes.size(); ++i) indexes[i] = static_cast<std::uint8_t>((i * 7 + i / 4) % 4);
  for (bool interlace : {false, true}) {
    SCOPED_TRACE(interlace ? "interlaced" : "progressive");
    Result<Image> image = Decode(EncodeGif(w, h, 2, 1, indexes, colors, interlace));
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_EQ(image->width, w);  // the frame, not the 9x14 screen (as ImageMagick)
    ASSERT_EQ(image->height, h);
    ASSERT_EQ(image->channels, 3);
    for (std::size_t i = 0; i < indexes.size(); ++i) {
      const GifColorType& c = colors[indexes[i]];
      ASSERT_EQ(image->pixels[3 * i], c.Red);
      ASSERT_EQ(image->pixels[3 * i + 1], c.Green);
      ASSERT_EQ(image->pixels[3 * i + 2], c.Blue);
    }
  }
  const std::vector<GifColorType> greys = {{0, 0, 0}, {77, 77, 77}};
  Result<Image> grey = Decode(EncodeGif(2, 2, 0, 0, {0, 1, 1, 0}, greys));
  ASSERT_TRUE(grey.ok());
  EXPECT_EQ(grey->channels, 1);
  EXPECT_EQ(grey->pixels, (Bytes{0, 77, 77, 0}));
}

TEST(BmpTest, DepthsAndRowOrder) {
  const int w = 5;
  const int h = 3;
  const Bytes rgb = Pattern(w, h);
  auto at = [&](int x, int y) { return &rgb[static_cast<std::size_t>((y * w + x) * 3)]; };
  auto bgr24 = [&](int x, int y) {
    const std::uint8_t* p = at(x, y);
    return static_cast<std::uint32_t>(p[2]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[0]) << 16;
  };
  for (bool top_down : {false, true}) {
    Result<Image> b24 = Decode(EncodeBmp(w, h, 24, top_down, 0, {}, {}, bgr24));
    ASSERT_TRUE(b24.ok()) << b24.status().ToString();
    EXPECT_EQ(b24->pixels, rgb);
    Result<Image> b32 = Decode(EncodeBmp(w, h, 32, top_down, 0, {}, {}, bgr24));
    ASSERT_TRUE(b32.ok());
    EXPECT_EQ(b32->pixels, rgb);
  }
  // 32-bit BI_BITFIELDS with the colours in unusual places.
  auto swapped = [&](int x, int y) {
    const std::uint8_t* p = at(x, y);
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]);
  };
  Result<Image> fields = Decode(EncodeBmp(w, h, 32, false, 3, {}, {0xFF000000, 0x0000FF00, 0x000000FF}, swapped));
  ASSERT_TRUE(fields.ok()) << fields.status().ToString();
  EXPECT_EQ(fields->pixels, rgb);
  // 16-bit 5-6-5: 31 -> 255, 63 -> 255, 16 -> 132, 32 -> 130 (ImageMagick's bit replication).
  Result<Image> b565 = Decode(EncodeBmp(2, 1, 16, false, 3, {}, {0xF800, 0x07E0, 0x001F},
                                        [](int x, int) { return x == 0 ? 0xFFFFU : (16U << 11 | 32U << 5 | 16U); }));
  ASSERT_TRUE(b565.ok());
  EXPECT_EQ(b565->pixels, (Bytes{255, 255, 255, 132, 130, 132}));
  // 8-bit and 4-bit palettes; an index past the palette takes entry 0.
  const std::vector<std::uint32_t> palette = {0x000000FF, 0x0000FF00, 0x00FF0000};
  Result<Image> b8 = Decode(EncodeBmp(4, 1, 8, false, 0, palette, {}, [](int x, int) { return x; }));
  ASSERT_TRUE(b8.ok());
  EXPECT_EQ(b8->pixels, (Bytes{0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 0, 255}));
  Result<Image> b4 = Decode(EncodeBmp(3, 1, 4, true, 0, palette, {}, [](int x, int) { return 2 - x; }));
  ASSERT_TRUE(b4.ok());
  EXPECT_EQ(b4->pixels, (Bytes{255, 0, 0, 0, 255, 0, 0, 0, 255}));
  // 1-bit black and white: one channel.
  Result<Image> b1 =
      Decode(EncodeBmp(9, 2, 1, false, 0, {0x000000, 0xFFFFFF}, {}, [](int x, int y) { return (x + y) % 2; }));
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(b1->channels, 1);
  EXPECT_EQ(b1->pixels[0], 0);
  EXPECT_EQ(b1->pixels[1], 255);
  EXPECT_EQ(b1->pixels[9], 255);
  // RLE is refused.
  Result<Image> rle = Decode(EncodeBmp(4, 1, 8, false, 1, palette, {}, [](int, int) { return 0; }));
  ASSERT_FALSE(rle.ok());
  EXPECT_EQ(rle.status().code(), ErrorCode::kUnsupported);
}

TEST(HeifTest, HeicAndAvifDecode) {
  const Bytes rgb = Pattern(16, 12);
  int encoded = 0;
  for (heif_compression_format format : {heif_compression_HEVC, heif_compression_AV1}) {
    const Bytes file = EncodeHeif(16, 12, rgb, format);
    if (file.empty()) continue;
    ++encoded;
    EXPECT_EQ(SniffImageFormat(file), ImageFormat::kHeif);
    Result<Image> image = Decode(file);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->width, 16);
    EXPECT_EQ(image->height, 12);
    EXPECT_EQ(image->channels, 3);
    for (std::size_t cut : {std::size_t{20}, file.size() / 3, file.size() * 2 / 3}) {
      Result<Image> part = Decode(Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut)));
      EXPECT_FALSE(part.ok()) << "cut at " << cut;
    }
    DecodeOptions small;
    small.max_pixels = 100;
    Result<Image> refused = Decode(file, small);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), ErrorCode::kTooLarge);
  }
  if (encoded == 0) GTEST_SKIP() << "this libheif has no HEVC or AV1 encoder";
}

// ------------------------------------------------------------ limits

Bytes OversizePng() {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  PutLe(&png, 0x30750000, 4);  // 30000, big-endian
  PutLe(&png, 0x30750000, 4);
  png.insert(png.end(), {8, 2, 0, 0, 0, 0, 0, 0, 0});  // depth, colour type, ..., CRC
  return png;
}

Bytes OversizeJpeg() {
  return {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x75, 0x30, 0x75, 0x30, 0x03,
          0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9};
}

TEST(LimitsTest, OversizeHeadersAreRefusedFast) {
  Bytes gif = {'G', 'I', 'F', '8',  '9',  'a',  0x30, 0x75, 0x30, 0x75, 0x00, 0,    0,    ',', 0,
               0,   0,   0,   0x30, 0x75, 0x30, 0x75, 0x00, 0x08, 0x02, 0x4C, 0x01, 0x00, ';'};
  Bytes bmp = EncodeBmp(1, 1, 24, false, 0, {}, {}, [](int, int) { return 0; });
  bmp[18] = 0x30;
  bmp[19] = 0x75;
  bmp[22] = 0x30;
  bmp[23] = 0x75;
  Bytes webp = {
      'R', 'I', 'F',  'F',  0x1A, 0,    0,    0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L', 0x0D, 0,
      0,   0,   0x2F, 0x2F, 0xF5, 0x4B, 0x1D, 0, 0,   0,   0,   0,   0,   0,   0,   0};  // 30000x30000 lossless header
  const auto start = std::chrono::steady_clock::now();
  for (const Bytes* input : {&gif, &bmp, &webp}) {
    Result<Image> image = Decode(*input);
    ASSERT_FALSE(image.ok());
    EXPECT_EQ(image.status().code(), ErrorCode::kTooLarge) << image.status().ToString();
  }
  Result<Image> png = Decode(OversizePng());
  ASSERT_FALSE(png.ok());
  EXPECT_EQ(png.status().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(png.status().message(), "image is 30000x30000 = 900 MP, over the 100 MP limit");
  Result<Image> jpeg = Decode(OversizeJpeg());
  ASSERT_FALSE(jpeg.ok());
  EXPECT_EQ(jpeg.status().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(jpeg.status().message(), "image is 30000x30000 = 900 MP, over the 100 MP limit");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

TEST(LimitsTest, MaxPixelsOption) {
  DecodeOptions small;
  small.max_pixels = 20;
  Result<Image> image = Decode(EncodeJpeg(5, 5, Pattern(5, 5), 3), small);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), ErrorCode::kTooLarge);
  small.max_pixels = 25;
  EXPECT_TRUE(Decode(EncodeJpeg(5, 5, Pattern(5, 5), 3), small).ok());
}

// ------------------------------------------ truncation and corruption

std::vector<Bytes> SmallSamples() {
  const Bytes rgb = Pattern(16, 12);
  std::vector<Bytes> samples;
  samples.push_back(EncodeJpeg(16, 12, rgb, 3));
  samples.push_back(EncodeJpeg(16, 12, rgb, 3, {}, true));
  samples.push_back(EncodePng(16, 12, PNG_COLOR_TYPE_RGB, 8, rgb));
  samples.push_back(EncodePng(16, 12, PNG_COLOR_TYPE_RGB, 8, rgb, true));
  std::uint8_t* out = nullptr;
  std::size_t size = WebPEncodeRGB(rgb.data(), 16, 12, 48, 80, &out);
  samples.emplace_back(out, out + size);
  WebPFree(out);
  size = WebPEncodeLosslessRGB(rgb.data(), 16, 12, 48, &out);
  samples.emplace_back(out, out + size);
  WebPFree(out);
  Bytes indexes(16 * 12);
  for (std::size_t i = 0; i < indexes.size(); ++i) indexes[i] = static_cast<std::uint8_t>(i % 3);
  samples.push_back(EncodeGif(16, 12, 0, 0, indexes, {{0, 0, 0}, {200, 10, 10}, {1, 2, 3}, {4, 5, 6}}, false, 1));
  samples.push_back(EncodeBmp(16, 12, 24, false, 0, {}, {}, [](int x, int y) { return x * 1000 + y; }));
  return samples;
}

TEST(RobustnessTest, TruncatedFilesFailCleanly) {
  for (const Bytes& full : SmallSamples()) {
    SCOPED_TRACE(std::string(ImageFormatName(SniffImageFormat(full))));
    ASSERT_TRUE(Decode(full).ok());
    for (std::size_t cut : {std::size_t{1}, std::size_t{4}, std::size_t{12}, std::size_t{30}, full.size() / 4,
                            full.size() / 2, full.size() * 3 / 4}) {
      const Bytes part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(std::min(cut, full.size())));
      Result<Image> image = Decode(part);
      ASSERT_FALSE(image.ok()) << "cut at " << cut;
      EXPECT_NE(image.status().code(), ErrorCode::kInternal);
      EXPECT_FALSE(image.status().message().empty());
    }
    // Near the end the image may be complete (a missing EOI or IEND); it
    // must not crash either way.
    for (std::size_t back = 1; back < 4; ++back) (void)Decode(Bytes(full.begin(), full.end() - back));
  }
}

TEST(RobustnessTest, TruncatedTestdataJpegSaysSo) {
  SKIP_WITHOUT_TESTDATA();
  for (const char* name : {"q0746.jpg", "wee.jpg", "c.png", "modes/PA.webp"}) {
    SCOPED_TRACE(name);
    const Bytes full = ReadFile(ImagesDir() + "/" + name);
    Result<Image> image = Decode(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(full.size() / 2)));
    ASSERT_FALSE(image.ok());
    EXPECT_EQ(image.status().code(), ErrorCode::kCorrupt);
    if (SniffImageFormat(full) == ImageFormat::kJpeg) {
      EXPECT_EQ(image.status().message(), "truncated JPEG data");
    }
  }
}

TEST(RobustnessTest, FlippedBytesNeverCrash) {
  std::mt19937 rng(11);
  for (const Bytes& full : SmallSamples()) {
    for (int i = 0; i < 150; ++i) {
      Bytes damaged = full;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < flips; ++k) damaged[rng() % damaged.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      Result<Image> image = Decode(damaged);
      if (image.ok()) {
        ASSERT_EQ(image->pixels.size(),
                  static_cast<std::size_t>(image->width) * image->height * static_cast<std::size_t>(image->channels));
      }
    }
  }
}

}  // namespace
}  // namespace takeback::media
