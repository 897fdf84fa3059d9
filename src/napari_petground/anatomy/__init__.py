"""Where in the body: landmarks read from the CT and PET, and the anatomical frame built on them."""
