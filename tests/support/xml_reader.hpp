// An XML reader for the tests that checks well-formedness as it parses: elements, attributes, text, entities.
#pragma once

#include <cctype>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#ifndef DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES
#define DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES  // LibTorch's glog defines CHECK (see tests/unit/testing.hpp)
#endif
#include <doctest/doctest.h>

namespace test_support {

/// An element with its attributes (references resolved), its text (all of its character
/// data, joined) and its child elements.
struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;
  std::vector<XmlElement> children;
};

inline bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.';
}

/// Checks that `text` is only characters and entity references (&amp; &lt; &gt; &quot;
/// &apos; &#N;) without '<'; returns it with the references resolved.
inline std::string xml_characters(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    DOCTEST_REQUIRE_MESSAGE(text[i] != '<', "a '<' in character data");
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const auto end = text.find(';', i);
    DOCTEST_REQUIRE_MESSAGE(end != std::string_view::npos, "an '&' that starts no entity reference");
    const auto entity = text.substr(i + 1, end - i - 1);
    static const std::map<std::string_view, char> named{
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    if (auto found = named.find(entity); found != named.end()) out += found->second;
    else
      DOCTEST_REQUIRE_MESSAGE((entity.size() > 1 && entity[0] == '#'), "an unknown entity &", std::string(entity), ";");
    i = end;
  }
  return out;
}

/// The element that starts at `at` in `xml`, up to its end tag, moving `at` past it; fails
/// the test where it is not well-formed.
inline XmlElement parse_element(std::string_view xml, std::size_t& at) {
  DOCTEST_REQUIRE(xml.substr(at, 1) == "<");
  ++at;
  XmlElement element;
  while (at < xml.size() && is_name_char(xml[at])) element.name += xml[at++];
  DOCTEST_REQUIRE_MESSAGE(!element.name.empty(), "an element without a name at byte ", at);
  for (;;) {
    while (at < xml.size() && std::isspace(static_cast<unsigned char>(xml[at]))) ++at;
    DOCTEST_REQUIRE(at < xml.size());
    if (xml.substr(at, 2) == "/>") {
      at += 2;
      return element;
    }
    if (xml[at] == '>') {
      ++at;
      break;
    }
    std::string name;
    while (at < xml.size() && is_name_char(xml[at])) name += xml[at++];
    DOCTEST_REQUIRE_MESSAGE(!name.empty(), "a bad attribute in <", element.name, "> at byte ", at);
    DOCTEST_REQUIRE_MESSAGE(xml.substr(at, 2) == "=\"", "attribute ", name, " of <", element.name, "> is not quoted");
    at += 2;
    const auto end = xml.find('"', at);
    DOCTEST_REQUIRE(end != std::string_view::npos);
    DOCTEST_REQUIRE_MESSAGE(element.attributes.count(name) == 0, "attribute ", name, " twice");
    element.attributes[name] = xml_characters(xml.substr(at, end - at));
    at = end + 1;
  }
  for (;;) {  // content, up to the matching end tag
    const auto next = xml.find('<', at);
    DOCTEST_REQUIRE_MESSAGE(next != std::string_view::npos, "<", element.name, "> is never closed");
    element.text += xml_characters(xml.substr(at, next - at));
    at = next;
    if (xml.substr(at, 2) == "</") {
      const auto end = xml.find('>', at);
      DOCTEST_REQUIRE(end != std::string_view::npos);
      DOCTEST_REQUIRE_MESSAGE(xml.substr(at + 2, end - at - 2) == element.name, "<", element.name, "> closed by ",
                              std::string(xml.substr(at, end - at + 1)));
      at = end + 1;
      return element;
    }
    element.children.push_back(parse_element(xml, at));
  }
}

/// The root element of `xml`; fails the test unless it is well-formed: an optional XML
/// declaration, then one element, then only white space.
inline XmlElement parse_xml(std::string_view xml) {
  std::size_t at = 0;
  if (xml.starts_with("<?xml")) {
    at = xml.find("?>");
    DOCTEST_REQUIRE(at != std::string_view::npos);
    at += 2;
  }
  while (at < xml.size() && std::isspace(static_cast<unsigned char>(xml[at]))) ++at;
  XmlElement root = parse_element(xml, at);
  for (; at < xml.size(); ++at)
    DOCTEST_REQUIRE_MESSAGE(std::isspace(static_cast<unsigned char>(xml[at])), "content after the root");
  return root;
}

/// Adds to `found` each of `element` and the elements below it that `match` accepts, in document order.
inline void find_all(const XmlElement& element, const std::function<bool(const XmlElement&)>& match,
                     std::vector<const XmlElement*>& found) {
  if (match(element)) found.push_back(&element);
  for (const auto& child : element.children) find_all(child, match, found);
}

/// `root` and the elements below it whose class attribute is `css_class`, in document order.
inline std::vector<const XmlElement*> elements_of_class(const XmlElement& root, const std::string& css_class) {
  std::vector<const XmlElement*> found;
  find_all(
      root, [&](const XmlElement& e) { return e.attributes.count("class") && e.attributes.at("class") == css_class; },
      found);
  return found;
}

}  // namespace test_support
